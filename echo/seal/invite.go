package seal

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Invite is the secret a person hands to a friend (as a code or a QR) so that the two can swap
// bundles through a relay without accounts (PROTOCOL.md section 7.2). Its zero RelayFP means
// "relay fingerprint unknown"; its zero InviterHash means "not bound to an inviter" (only
// invites of the deprecated NewInvite; NewInviteFor always binds).
//
// Code bytes (version 2):
//
//	version u8 (2) || flags u8 || secret [16] || [inviter_hash [16]] || [relay_fp [32]] ||
//	relay_len u8 (1..200) || relay || check [4]
//	flags: bit 0 inviter_hash present, bit 1 relay_fp present, other bits zero; a present field
//	is never all zero (one encoding per invite)
//	check: the first 4 bytes of SHA-256 of everything before it
//
// The text is the unpadded base32 (RFC 4648, upper case) of the bytes. Parsing ignores spaces
// and dashes and is case-insensitive. Version 1 codes are refused with ErrInviteVersion.
type Invite struct {
	Secret      [InviteSecretSize]byte
	Relay       string   // where the inviter put its bundle, [scheme://]host:port
	RelayFP     [32]byte // the relay's key fingerprint for pinning; zero when unknown
	InviterHash [InviterHashSize]byte
}

const (
	// InviteSecretSize is 16 bytes: 128 random bits.
	InviteSecretSize = 16
	// InviterHashSize is the size of the inviter binding in a code: 128 bits, so that finding
	// another bundle with the same hash is a 2^128 second-preimage search.
	InviterHashSize = 16
)

const (
	inviteCodeV1      = 1
	inviteCodeVersion = 2
	codeFlagInviter   = 1 << 0
	codeFlagRelayFP   = 1 << 1
	maxRelayLen       = 200
	maxNickLen        = 64
	inviteLabel       = "echorelay-invite-v2/"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewInviteFor draws a fresh secret for an invite by inviter through relay, whose key
// fingerprint is relayFP (zero when unknown). The code binds the inviter's fingerprint.
func NewInviteFor(inviter *Identity, relay string, relayFP [32]byte) (Invite, error) {
	if inviter == nil {
		return Invite{}, fmt.Errorf("failed to create invite: no inviter identity")
	}
	inv, err := newInvite(relay)
	if err != nil {
		return inv, err
	}
	inv.RelayFP = relayFP
	inv.InviterHash = inv.inviterHash(inviter.Fingerprint())
	return inv, nil
}

// newInvite draws a fresh secret for an invite through relay that names no inviter: the
// tests' codes of other programs (Bound false), which clients refuse.
func newInvite(relay string) (Invite, error) {
	inv := Invite{Relay: relay}
	if len(relay) == 0 || len(relay) > maxRelayLen {
		return inv, fmt.Errorf("failed to create invite: relay address of %d bytes (1 to %d)", len(relay), maxRelayLen)
	}
	if _, err := rand.Read(inv.Secret[:]); err != nil {
		return inv, fmt.Errorf("failed to create invite: %w", err)
	}
	return inv, nil
}

// Bound reports whether the invite names its inviter (InviterHash is set). Codes of
// NewInviteFor always do; echorelay's client refuses codes that do not, since their inviter
// bundle could be swapped by anyone holding the code.
func (inv Invite) Bound() bool { return inv.InviterHash != [InviterHashSize]byte{} }

// Code is the invite as text.
func (inv Invite) Code() string {
	b := make([]byte, 0, 2+InviteSecretSize+InviterHashSize+32+1+len(inv.Relay)+4)
	var flags byte
	if inv.Bound() {
		flags |= codeFlagInviter
	}
	if inv.RelayFP != [32]byte{} {
		flags |= codeFlagRelayFP
	}
	b = append(b, inviteCodeVersion, flags)
	b = append(b, inv.Secret[:]...)
	if flags&codeFlagInviter != 0 {
		b = append(b, inv.InviterHash[:]...)
	}
	if flags&codeFlagRelayFP != 0 {
		b = append(b, inv.RelayFP[:]...)
	}
	b = append(b, byte(len(inv.Relay)))
	b = append(b, inv.Relay...)
	sum := sha256.Sum256(b)
	return b32.EncodeToString(append(b, sum[:4]...))
}

// ParseInviteCode decodes a code typed, pasted or scanned by a person. Errors wrap
// ErrInviteCode, and also ErrInviteVersion for a code of another echorelay version.
func ParseInviteCode(s string) (Invite, error) {
	var inv Invite
	s = strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 1+4 {
		return inv, fmt.Errorf("%w: not base32 or too short", ErrInviteCode)
	}
	if b32.EncodeToString(b) != s { // unused low bits of the last character set: a typo
		return inv, fmt.Errorf("%w: checksum mismatch (a typo?)", ErrInviteCode)
	}
	body, check := b[:len(b)-4], b[len(b)-4:]
	if sum := sha256.Sum256(body); string(sum[:4]) != string(check) {
		return inv, fmt.Errorf("%w: checksum mismatch (a typo?)", ErrInviteCode)
	}
	switch {
	case body[0] == inviteCodeV1:
		return inv, fmt.Errorf("%w: %w: this code was made by an older echorelay; ask for a new one", ErrInviteCode, ErrInviteVersion)
	case body[0] != inviteCodeVersion:
		return inv, fmt.Errorf("%w: %w: version %d, made by a newer echorelay?", ErrInviteCode, ErrInviteVersion, body[0])
	}
	bad := func(what string) (Invite, error) { return Invite{}, fmt.Errorf("%w: %s", ErrInviteCode, what) }
	if len(body) < 2+InviteSecretSize+1 {
		return bad("too short")
	}
	flags := body[1]
	if flags&^(codeFlagInviter|codeFlagRelayFP) != 0 {
		return bad(fmt.Sprintf("unknown flags %#02x", flags))
	}
	rest := body[2+copy(inv.Secret[:], body[2:]):]
	if flags&codeFlagInviter != 0 {
		if len(rest) < InviterHashSize {
			return bad("truncated inviter hash")
		}
		rest = rest[copy(inv.InviterHash[:], rest):]
		if !inv.Bound() {
			return bad("zero inviter hash")
		}
	}
	if flags&codeFlagRelayFP != 0 {
		if len(rest) < 32 {
			return bad("truncated relay fingerprint")
		}
		rest = rest[copy(inv.RelayFP[:], rest):]
		if inv.RelayFP == [32]byte{} {
			return bad("zero relay fingerprint")
		}
	}
	if len(rest) < 1 || rest[0] == 0 || int(rest[0]) > maxRelayLen || len(rest) != 1+int(rest[0]) {
		return bad("inconsistent relay address")
	}
	inv.Relay = string(rest[1:])
	return inv, nil
}

// derive returns K(purpose) = HKDF-SHA3-256(ikm = secret, salt = "",
// info = "echorelay-invite-v2/" || purpose, 32).
func (inv Invite) derive(purpose string) []byte {
	return inv.deriveN(purpose, 32)
}

func (inv Invite) deriveN(info string, n int) []byte {
	k, err := hkdf.Key(sha3.New256, inv.Secret[:], nil, inviteLabel+info, n)
	if err != nil {
		panic(err) // unreachable: n is far below HKDF's limit
	}
	return k
}

// inviterHash = HKDF-SHA3-256(ikm = secret, salt = "", info = "echorelay-invite-v2/inviter-hash"
// || fp, 16). Keyed by the secret, so that codes of one inviter cannot be linked to each other
// without opening their blobs.
func (inv Invite) inviterHash(fp Fingerprint) [InviterHashSize]byte {
	return [InviterHashSize]byte(inv.deriveN("inviter-hash"+string(fp[:]), InviterHashSize))
}

// checkInviter reports whether fp is the inviter the code names (always, for an unbound
// invite).
func (inv Invite) checkInviter(fp Fingerprint) bool {
	if !inv.Bound() {
		return true
	}
	h := inv.inviterHash(fp)
	return subtle.ConstantTimeCompare(h[:], inv.InviterHash[:]) == 1
}

// InviterTag and AcceptorTag are the mailbox tags of the two invite blobs.
func (inv Invite) InviterTag() [32]byte  { return [32]byte(inv.derive("tag-inviter")) }
func (inv Invite) AcceptorTag() [32]byte { return [32]byte(inv.derive("tag-acceptor")) }

// cleanNick makes a suggested nickname valid UTF-8 of at most maxNickLen bytes, cut at a
// character boundary.
func cleanNick(nick string) string {
	nick = strings.ToValidUTF8(nick, "")
	for len(nick) > maxNickLen {
		_, n := utf8.DecodeLastRuneInString(nick)
		nick = nick[:len(nick)-n]
	}
	return nick
}
