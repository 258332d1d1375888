package seal

import (
	"crypto/ed25519"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// TestSignWithSigningKeys: what Identity.Sign makes verifies with the bundle's SigningKeys,
// both signatures over label || msg, and with no other message.
func TestSignWithSigningKeys(t *testing.T) {
	id, err := GenerateIdentity(testScheme())
	if err != nil {
		t.Fatal(err)
	}
	keys := id.Bundle().SigningKeys()
	sigs := id.Sign([]byte("label "), []byte("msg"))
	if len(sigs) != SignaturesSize {
		t.Fatalf("%d bytes of signatures", len(sigs))
	}
	var pk mldsa65.PublicKey
	if err := pk.UnmarshalBinary(keys[ed25519.PublicKeySize:]); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"label msg", "label msh"} {
		okEd := ed25519.Verify(keys[:ed25519.PublicKeySize], []byte(m), sigs[:ed25519.SignatureSize])
		okDSA := mldsa65.Verify(&pk, []byte(m), nil, sigs[ed25519.SignatureSize:])
		if want := m == "label msg"; okEd != want || okDSA != want {
			t.Errorf("%q: ed25519 %v, ML-DSA-65 %v, want %v", m, okEd, okDSA, want)
		}
	}
	if !id.Bundle().verify([]byte("label "), []byte("msg"), sigs) {
		t.Error("the bundle's own check refuses it")
	}
}
