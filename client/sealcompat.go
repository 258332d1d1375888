package client

// The invite calls into echo/seal, with the relay fingerprints converted between the hex
// strings of peers (and Friend) and the 32 bytes of the invite code and answer.

import (
	"encoding/hex"

	"github.com/echorelay/echorelay/echo/seal"
)

type answerInfo struct {
	Nick, Relay, RelayFP string
}

type answer struct {
	Acceptor             *seal.Bundle
	Nick, Relay, RelayFP string // Relay "" when the answer carries none
	Pair                 []byte
}

// fpBytes is a hex relay fingerprint as 32 bytes, zero when it is not one.
func fpBytes(fp string) [32]byte {
	var b [32]byte
	if raw, err := hex.DecodeString(fp); err == nil && len(raw) == 32 {
		copy(b[:], raw)
	}
	return b
}

func fpString(b [32]byte) string {
	if b == ([32]byte{}) {
		return ""
	}
	return hex.EncodeToString(b[:])
}

func newInvite(id *seal.Identity, relay, relayFP string) (seal.Invite, error) {
	return seal.NewInviteFor(id, relay, fpBytes(relayFP))
}

func inviteRelayFP(inv seal.Invite) string { return fpString(inv.RelayFP) }

func sealAnswer(inv seal.Invite, me *seal.Identity, inviter *seal.Bundle, info answerInfo) ([]byte, []byte, error) {
	return inv.SealAnswer(me, inviter, seal.AnswerInfo{Nick: info.Nick, Relay: info.Relay, RelayFP: fpBytes(info.RelayFP)})
}

func openAnswer(inv seal.Invite, me *seal.Identity, b []byte) (*answer, error) {
	a, err := inv.OpenAnswer(me, b)
	if err != nil {
		return nil, err
	}
	return &answer{Acceptor: a.Acceptor, Nick: a.Nick, Relay: a.Relay, RelayFP: fpString(a.RelayFP), Pair: a.Pair}, nil
}

func peekAnswer(inv seal.Invite, b []byte) (seal.Fingerprint, error) { return inv.PeekAnswer(b) }

// HistoryKey is the key the history is encrypted under (seal.Identity.HistoryKey).
func HistoryKey(id *seal.Identity) [32]byte { return id.HistoryKey() }
