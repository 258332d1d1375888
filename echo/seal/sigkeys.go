package seal

import (
	"crypto/ed25519"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// SigningKeysSize is the size of a bundle's signature public keys: Ed25519 || ML-DSA-65.
const SigningKeysSize = ed25519.PublicKeySize + mldsa65.PublicKeySize

// SignaturesSize is the size of what Identity.Sign returns: an Ed25519 and an ML-DSA-65
// signature.
const SignaturesSize = sigsSize

// SigningKeys returns the bundle's signature public keys, ed25519_pk || mldsa65_pk (for
// other parts of the client that name a member by its keys, such as groups).
func (b *Bundle) SigningKeys() [SigningKeysSize]byte {
	var out [SigningKeysSize]byte
	copy(out[:], b.edPK)
	copy(out[ed25519.PublicKeySize:], b.dsaPK.Bytes())
	return out
}

// Sign returns ed25519_sig || mldsa65_sig over label || msg with the identity's long-term
// keys; a holder of SigningKeys verifies both (groups sign their chain announcements so).
func (id *Identity) Sign(label, msg []byte) []byte { return id.sign(label, msg) }
