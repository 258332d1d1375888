package hybrid

import (
	"crypto/ecdh"
	"crypto/sha3"
	"crypto/subtle"
	"fmt"
	"sync"

	"github.com/cloudflare/circl/kem"
)

// PublicKey is a hybrid public key. Its encoding is
//
//	mc_pk ‖ mlkem_pk (1184) ‖ x25519_pk (32)
//
// and it keeps the SHA3-256 of each component encoding, computed once, for
// the combiner.
type PublicKey struct {
	scheme *Scheme
	mc     kem.PublicKey
	mcHash [hashSize]byte
	ml     kem.PublicKey
	mlHash [hashSize]byte
	x      *ecdh.PublicKey
	xHash  [hashSize]byte
}

var _ kem.PublicKey = (*PublicKey)(nil)

// Scheme returns the hybrid this key belongs to.
func (pk *PublicKey) Scheme() kem.Scheme { return pk.scheme }

// MarshalBinary returns mc_pk ‖ mlkem_pk ‖ x25519_pk.
func (pk *PublicKey) MarshalBinary() ([]byte, error) {
	mc, err := pk.mc.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("failed to marshal public key: %w", err)
	}
	ml, err := pk.ml.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("failed to marshal public key: %w", err)
	}
	out := make([]byte, 0, pk.scheme.PublicKeySize())
	out = append(out, mc...)
	out = append(out, ml...)
	out = append(out, pk.x.Bytes()...)
	return out, nil
}

// Equal reports whether other is the same public key of the same scheme. It
// compares the component hashes.
func (pk *PublicKey) Equal(other kem.PublicKey) bool {
	o, ok := other.(*PublicKey)
	if !ok || o == nil {
		return false
	}
	return pk.scheme == o.scheme && pk.mcHash == o.mcHash && pk.mlHash == o.mlHash && pk.xHash == o.xHash
}

// PrivateKey is a hybrid private key. Its encoding is
//
//	mc_sk ‖ mlkem_seed (64, d ‖ z) ‖ x25519_sk (32) ‖ SHA3-256(mc_pk) (32)
//
// The McEliece public key cannot be recomputed cheaply from mc_sk, so its
// hash is cached in the encoding; the ML-KEM and X25519 public keys (and
// their hashes) are recomputed when the key is unmarshalled. The cached hash
// is trusted as stored: a corrupted one makes every decapsulation return a
// wrong (implicitly rejected) secret, never an error.
type PrivateKey struct {
	scheme *Scheme
	mc     kem.PrivateKey
	mlSeed [mlkemSeedSize]byte
	ml     kem.PrivateKey
	x      *ecdh.PrivateKey
	hashes [3][hashSize]byte // H(mc_pk), H(mlkem_pk), H(x25519_pk)

	pubOnce sync.Once
	pub     *PublicKey // set by DeriveKeyPair, or lazily by Public
}

var _ kem.PrivateKey = (*PrivateKey)(nil)

// Scheme returns the hybrid this key belongs to.
func (sk *PrivateKey) Scheme() kem.Scheme { return sk.scheme }

// MarshalBinary returns mc_sk ‖ mlkem_seed ‖ x25519_sk ‖ H(mc_pk).
func (sk *PrivateKey) MarshalBinary() ([]byte, error) {
	mc, err := sk.mc.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("failed to marshal private key: %w", err)
	}
	out := make([]byte, 0, sk.scheme.PrivateKeySize())
	out = append(out, mc...)
	out = append(out, sk.mlSeed[:]...)
	out = append(out, sk.x.Bytes()...)
	out = append(out, sk.hashes[0][:]...)
	return out, nil
}

// Equal reports, in constant time over the encodings, whether other is the
// same private key of the same scheme.
func (sk *PrivateKey) Equal(other kem.PrivateKey) bool {
	o, ok := other.(*PrivateKey)
	if !ok || o == nil || sk.scheme != o.scheme {
		return false
	}
	a, err := sk.MarshalBinary()
	if err != nil {
		return false
	}
	b, err := o.MarshalBinary()
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Public returns the matching public key. For a key made by DeriveKeyPair or
// GenerateKeyPair it is the cached original. For an unmarshalled key the
// McEliece part is recomputed by the component's Public method once (which
// may be as slow as its key generation) and cached; Public returns nil if the
// component cannot do that.
func (sk *PrivateKey) Public() kem.PublicKey {
	sk.pubOnce.Do(func() { sk.pub = sk.recomputePublic() })
	if sk.pub == nil {
		return nil
	}
	return sk.pub
}

func (sk *PrivateKey) recomputePublic() *PublicKey {
	mcPK := sk.mc.Public()
	if mcPK == nil {
		return nil
	}
	mcBytes, err := mcPK.MarshalBinary()
	if err != nil {
		return nil
	}
	return &PublicKey{
		scheme: sk.scheme,
		mc:     mcPK,
		mcHash: sha3.Sum256(mcBytes),
		ml:     sk.ml.Public(),
		mlHash: sk.hashes[1],
		x:      sk.x.PublicKey(),
		xHash:  sk.hashes[2],
	}
}

// UnmarshalBinaryPublicKey parses mc_pk ‖ mlkem_pk ‖ x25519_pk. It returns
// kem.ErrPubKeySize for a wrong length and an error wrapping kem.ErrPubKey (or
// the component's error) for an invalid component, including an X25519 share
// that is a low-order point.
func (s *Scheme) UnmarshalBinaryPublicKey(buf []byte) (kem.PublicKey, error) {
	if len(buf) != s.PublicKeySize() {
		return nil, fmt.Errorf("failed to unmarshal public key: %w", kem.ErrPubKeySize)
	}
	nMC := s.mc.PublicKeySize()
	bMC := buf[:nMC]
	bML := buf[nMC : nMC+mlkemPublicKeySize]
	bX := buf[nMC+mlkemPublicKeySize:]

	mcPK, err := s.mc.UnmarshalBinaryPublicKey(bMC)
	if err != nil {
		return nil, fmt.Errorf("failed to unmarshal public key (McEliece): %w", err)
	}
	mlPK, err := mlkem.UnmarshalBinaryPublicKey(bML)
	if err != nil {
		return nil, fmt.Errorf("failed to unmarshal public key (ML-KEM): %w", err)
	}
	xPK, err := ecdh.X25519().NewPublicKey(bX)
	if err != nil {
		return nil, fmt.Errorf("failed to unmarshal public key (X25519): %w", err)
	}
	if lowOrder(xPK) {
		return nil, fmt.Errorf("failed to unmarshal public key (X25519 low-order point): %w", kem.ErrPubKey)
	}
	return &PublicKey{
		scheme: s,
		mc:     mcPK,
		mcHash: sha3.Sum256(bMC),
		ml:     mlPK,
		mlHash: sha3.Sum256(bML),
		x:      xPK,
		xHash:  sha3.Sum256(bX),
	}, nil
}

// UnmarshalBinaryPrivateKey parses mc_sk ‖ mlkem_seed ‖ x25519_sk ‖
// H(mc_pk). It returns kem.ErrPrivKeySize for a wrong length and wraps the
// McEliece component's error for an invalid mc_sk. Every seed and scalar is
// valid, so nothing else can fail.
func (s *Scheme) UnmarshalBinaryPrivateKey(buf []byte) (kem.PrivateKey, error) {
	if len(buf) != s.PrivateKeySize() {
		return nil, fmt.Errorf("failed to unmarshal private key: %w", kem.ErrPrivKeySize)
	}
	nMC := s.mc.PrivateKeySize()
	off := 0
	next := func(n int) []byte { b := buf[off : off+n]; off += n; return b }
	bMC := next(nMC)
	bML := next(mlkemSeedSize)
	bX := next(x25519Size)
	bH := next(hashSize)

	mcSK, err := s.mc.UnmarshalBinaryPrivateKey(bMC)
	if err != nil {
		return nil, fmt.Errorf("failed to unmarshal private key (McEliece): %w", err)
	}
	mlPK, mlSK := mlkem.DeriveKeyPair(bML)
	xSK, err := ecdh.X25519().NewPrivateKey(bX)
	if err != nil {
		return nil, fmt.Errorf("failed to unmarshal private key (X25519): %w", err)
	}
	sk := &PrivateKey{scheme: s, mc: mcSK, ml: mlSK, x: xSK}
	copy(sk.mlSeed[:], bML)
	copy(sk.hashes[0][:], bH)
	sk.hashes[1] = hashOf(mlPK)
	sk.hashes[2] = sha3.Sum256(xSK.PublicKey().Bytes())
	return sk, nil
}

// lowOrderProbe is a fixed X25519 scalar. X25519 clamps every scalar to a
// multiple of 8, so multiplying a point of order dividing 8 by it gives the
// all-zero output, which crypto/ecdh reports as an error.
var lowOrderProbe, _ = ecdh.X25519().NewPrivateKey(sha3.SumSHAKE256([]byte(labelPrefix+"/low-order-probe"), x25519Size))

func lowOrder(pk *ecdh.PublicKey) bool {
	_, err := lowOrderProbe.ECDH(pk)
	return err != nil
}
