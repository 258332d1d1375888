//go:build !js

package client_test

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha3"
	"encoding/binary"
	"testing"

	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/mceliece/hybrid"
	"golang.org/x/crypto/chacha20poly1305"
)

// reseal opens payload with holder's KEM key, lets mutate change the padded inner plaintext
// (PROTOCOL.md 7.3) and seals it again to the bundle to: what a friend who re-sends a message
// it received, or an attacker who holds the recipient's keys, would do. It follows the
// layout of PROTOCOL.md 7.3 byte by byte, independently of echo/seal.
func reseal(t *testing.T, holder *seal.Identity, to *seal.Bundle, payload []byte, mutate func(padded []byte)) []byte {
	t.Helper()
	kemID := binary.BigEndian.Uint16(payload[1:])
	s := hybrid.ByID(kemID)
	raw, err := holder.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	body := raw[6:] // "ERID" || version || protection 0
	n := binary.BigEndian.Uint32(body[64:])
	sk, err := s.UnmarshalBinaryPrivateKey(body[68 : 68+n])
	if err != nil {
		t.Fatal(err)
	}
	nct := s.CiphertextSize()
	ss, err := s.Decapsulate(sk, payload[3:3+nct])
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := chacha20poly1305.NewX(sealKey(t, ss, kemID, holder.Fingerprint()))
	nonce := payload[3+nct : 3+nct+24]
	padded, err := aead.Open(nil, nonce, payload[3+nct+24:], payload[:3+nct])
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(padded)
	}
	b := to.Bytes()
	pkLen := binary.BigEndian.Uint32(b[6:])
	pk, err := s.UnmarshalBinaryPublicKey(b[10 : 10+pkLen])
	if err != nil {
		t.Fatal(err)
	}
	ct, ss2, err := s.Encapsulate(pk)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{1, byte(kemID >> 8), byte(kemID)}, ct...)
	ad := out
	nonce2 := make([]byte, 24)
	rand.Read(nonce2)
	aead2, _ := chacha20poly1305.NewX(sealKey(t, ss2, kemID, to.Fingerprint()))
	return aead2.Seal(append(append([]byte(nil), ad...), nonce2...), nonce2, padded, ad)
}

func sealKey(t *testing.T, ss []byte, kemID uint16, recipient seal.Fingerprint) []byte {
	info := append([]byte("echorelay-seal-v1"), byte(kemID>>8), byte(kemID))
	k, err := hkdf.Key(sha3.New256, ss, nil, string(append(info, recipient[:]...)), 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
