package group

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha3"
	"fmt"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/echorelay/echorelay/echo/seal"
	"golang.org/x/crypto/chacha20poly1305"
)

// Chain announcements (PROTOCOL.md "Groups", announcements). A member hands its sender chain
// to the others once per epoch change, as one group blob under the epoch's tag, readable with
// the epoch secret that only that epoch's members get (pairwise, from the admin), and signed
// with the member's long-term keys, which the admin's commit lists:
//
//	announcement = version u8 (2) || nonce [24] || XChaCha20-Poly1305(ak, nonce, body, ad = bytes 0..25)
//	body         = sender_fp [32] || sig_keys [1984] || sender key payload [97] ||
//	               ed25519_sig [64] || mldsa65_sig [3309]
//	sigs         over "echorelay-group-announce-v1" 0x00 || sender_fp || sig_keys || sender key payload
//	             (sig_keys: the commit names them by SHA-256(sig_keys))
//	ak           = HKDF(ikm = epoch_secret, salt = "", info = "echorelay-group-announce-v1" || group_id, 32)
const (
	announceVersion = 2
	announceLabel   = "echorelay-group-announce-v1"
	announceBody    = 32 + SigKeysSize + senderKeyLen + seal.SignaturesSize
	// AnnouncementSize is the size of every announcement blob.
	AnnouncementSize = 1 + nonceLen + announceBody + aeadTag
)

// Signer signs msg with this member's long-term keys: ed25519_sig || mldsa65_sig over msg
// (seal.Identity.Sign with an empty label).
type Signer func(msg []byte) []byte

func announceKey(secret [32]byte, id ID) [32]byte {
	out, err := hkdf.Key(sha3.New256, secret[:], nil, announceLabel+string(id[:]), 32)
	if err != nil {
		panic("group: hkdf: " + err.Error())
	}
	return [32]byte(out)
}

func announceSigned(sender Fingerprint, keys *SigKeys, payload []byte) []byte {
	m := make([]byte, 0, len(announceLabel)+1+32+SigKeysSize+len(payload))
	m = append(m, announceLabel...)
	m = append(m, 0)
	m = append(m, sender[:]...)
	m = append(m, keys[:]...)
	return append(m, payload...)
}

// sealAnnouncement builds the announcement of a sender key payload.
func sealAnnouncement(ak [32]byte, nonce [nonceLen]byte, sender Fingerprint, keys *SigKeys, payload []byte, sign Signer) ([]byte, error) {
	sigs := sign(announceSigned(sender, keys, payload))
	if len(sigs) != seal.SignaturesSize {
		return nil, fmt.Errorf("failed to sign the chain announcement: %d bytes of signatures", len(sigs))
	}
	body := make([]byte, 0, announceBody)
	body = append(body, sender[:]...)
	body = append(body, keys[:]...)
	body = append(body, payload...)
	body = append(body, sigs...)
	blob := make([]byte, 0, AnnouncementSize)
	blob = append(blob, announceVersion)
	blob = append(blob, nonce[:]...)
	a, _ := chacha20poly1305.NewX(ak[:])
	return a.Seal(blob, nonce[:], body, blob[:1+nonceLen]), nil
}

// openAnnouncement decrypts an announcement with one epoch's key; the signatures are checked
// by the caller, which knows the sender's keys.
func openAnnouncement(blob []byte, ak [32]byte) (sender Fingerprint, keys *SigKeys, payload, sigs []byte, ok bool) {
	if len(blob) != AnnouncementSize || blob[0] != announceVersion {
		return sender, nil, nil, nil, false
	}
	a, _ := chacha20poly1305.NewX(ak[:])
	body, err := a.Open(nil, blob[1:1+nonceLen], blob[1+nonceLen:], blob[:1+nonceLen])
	if err != nil {
		return sender, nil, nil, nil, false
	}
	copy(sender[:], body)
	keys = (*SigKeys)(body[32 : 32+SigKeysSize])
	rest := body[32+SigKeysSize:]
	return sender, keys, rest[:senderKeyLen], rest[senderKeyLen:], true
}

// validKeys reports whether keys are set (an Ed25519 key that is not all zero: a member whose
// keys were left out) and hold an ML-DSA-65 public key encoding.
func validKeys(keys SigKeys) bool {
	var pk mldsa65.PublicKey
	return [ed25519.PublicKeySize]byte(keys[:ed25519.PublicKeySize]) != [ed25519.PublicKeySize]byte{} &&
		pk.UnmarshalBinary(keys[ed25519.PublicKeySize:]) == nil
}

// verifySigs checks ed25519_sig || mldsa65_sig over msg against keys; both must verify.
func verifySigs(keys *SigKeys, msg, sigs []byte) bool {
	if len(sigs) != seal.SignaturesSize {
		return false
	}
	var pk mldsa65.PublicKey
	if pk.UnmarshalBinary(keys[ed25519.PublicKeySize:]) != nil {
		return false
	}
	okEd := ed25519.Verify(ed25519.PublicKey(keys[:ed25519.PublicKeySize]), msg, sigs[:ed25519.SignatureSize])
	okDSA := mldsa65.Verify(&pk, msg, nil, sigs[ed25519.SignatureSize:])
	return okEd && okDSA
}
