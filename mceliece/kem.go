package mceliece

import (
	"bytes"
	"crypto/rand"
	"crypto/sha3"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cloudflare/circl/kem"
)

// ErrCiphertextPadding is returned by Decapsulate for a mceliece6960119* ciphertext whose
// unused high bits of the last byte are not zero. The shared key returned with it is 32
// bytes of 0xFF, as the reference implementation produces.
var ErrCiphertextPadding = errors.New("mceliece: nonzero ciphertext padding bits")

// Scheme is one Classic McEliece parameter set. It implements kem.Scheme; ByName and All
// return values of type *Scheme.
type Scheme struct {
	p *params
}

// PublicKey is a Classic McEliece public key (the matrix T, mt rows).
type PublicKey struct {
	s    *Scheme
	raw  []byte
	rows []uint64 // T unpacked to 64-bit words, pkRowWords per row
}

// PrivateKey is a Classic McEliece secret key in the reference layout
// δ(32) ‖ c(8) ‖ g(2t) ‖ control bits ‖ s(n/8), together with its public key.
type PrivateKey struct {
	s   *Scheme
	raw []byte

	pkOnce sync.Once
	pk     *PublicKey // set by key generation, or recomputed from δ on demand

	expOnce sync.Once
	exp     *expandedKey // network masks and decoder weights, built on first use
}

var schemes = func() []*Scheme {
	out := make([]*Scheme, len(allParams))
	for i, p := range allParams {
		out[i] = &Scheme{p: p}
	}
	return out
}()

// ByName returns the scheme called name ("mceliece348864" ... "mceliece8192128f"), or nil.
func ByName(name string) kem.Scheme {
	for _, s := range schemes {
		if s.p.name == name {
			return s
		}
	}
	return nil
}

// All returns the ten parameter sets in the order of the specification.
func All() []kem.Scheme {
	out := make([]kem.Scheme, len(schemes))
	for i, s := range schemes {
		out[i] = s
	}
	return out
}

// Name returns the parameter set's name, for example "mceliece6688128f".
func (s *Scheme) Name() string { return s.p.name }

// PublicKeySize returns the public-key size in bytes.
func (s *Scheme) PublicKeySize() int { return s.p.pkBytes }

// PrivateKeySize returns the secret-key size in bytes.
func (s *Scheme) PrivateKeySize() int { return s.p.skBytes }

// CiphertextSize returns the ciphertext size in bytes.
func (s *Scheme) CiphertextSize() int { return s.p.ctBytes }

// SharedKeySize returns 32.
func (s *Scheme) SharedKeySize() int { return sharedKeySize }

// SeedSize returns 32: DeriveKeyPair's seed is the specification's seed δ.
func (s *Scheme) SeedSize() int { return seedSize }

// EncapsulationSeedSize returns 32; see EncapsulateDeterministically.
func (s *Scheme) EncapsulationSeedSize() int { return 32 }

// GenerateKeyPair generates a key pair with randomness from crypto/rand.
func (s *Scheme) GenerateKeyPair() (kem.PublicKey, kem.PrivateKey, error) {
	return s.GenerateKeyPairFrom(rand.Reader)
}

// GenerateKeyPairFrom generates a key pair reading exactly 32 bytes (δ) from r with a
// single io.ReadFull; everything else is derived from δ by SHAKE256. This matches the
// reference's single randombytes(32) call.
func (s *Scheme) GenerateKeyPairFrom(r io.Reader) (kem.PublicKey, kem.PrivateKey, error) {
	delta := make([]byte, seedSize)
	if _, err := io.ReadFull(r, delta); err != nil {
		return nil, nil, fmt.Errorf("mceliece: failed to read seed: %w", err)
	}
	pk, sk := s.derive(delta)
	return pk, sk, nil
}

// DeriveKeyPair derives a key pair from seed, which is used as the specification's
// 32-byte seed δ: the result equals the reference key generation after its
// randombytes(32) returned seed. As kem.Scheme requires, it panics with kem.ErrSeedSize
// when len(seed) != 32.
func (s *Scheme) DeriveKeyPair(seed []byte) (kem.PublicKey, kem.PrivateKey) {
	if len(seed) != seedSize {
		panic(kem.ErrSeedSize)
	}
	return s.derive(seed)
}

func (s *Scheme) derive(delta []byte) (*PublicKey, *PrivateKey) {
	pkb, skb := s.p.generateKey(delta)
	rows, _ := s.p.parsePublicRows(pkb)
	pk := &PublicKey{s: s, raw: pkb, rows: rows}
	return pk, &PrivateKey{s: s, raw: skb, pk: pk}
}

// Encapsulate encapsulates a fresh shared key to pk with randomness from crypto/rand.
func (s *Scheme) Encapsulate(pk kem.PublicKey) (ct, ss []byte, err error) {
	return s.EncapsulateFrom(pk, rand.Reader)
}

// EncapsulateFrom encapsulates to pk reading its randomness from r: each attempt at the
// weight-t error vector makes one io.ReadFull of 4t bytes (2t bytes for mceliece8192128*,
// where n = 2^m), exactly the reference's randombytes requests.
func (s *Scheme) EncapsulateFrom(pk kem.PublicKey, r io.Reader) (ct, ss []byte, err error) {
	k, ok := pk.(*PublicKey)
	if !ok || k == nil || k.s != s {
		return nil, nil, kem.ErrTypeMismatch
	}
	ct, ss, err = s.p.encapsulate(k.rows, r)
	if err != nil {
		return nil, nil, fmt.Errorf("mceliece: failed to encapsulate: %w", err)
	}
	return ct, ss, nil
}

// EncapsulateDeterministically encapsulates to pk with the randomness taken from the
// SHAKE256 output stream of seed (32 bytes): EncapsulateFrom(pk, SHAKE256(seed)). The
// number of bytes consumed varies with the rejection sampling of the error vector.
func (s *Scheme) EncapsulateDeterministically(pk kem.PublicKey, seed []byte) (ct, ss []byte, err error) {
	if len(seed) != 32 {
		return nil, nil, kem.ErrSeedSize
	}
	h := sha3.NewSHAKE256()
	h.Write(seed)
	return s.EncapsulateFrom(pk, h)
}

// Decapsulate returns the shared key for ct. A ciphertext that does not decode gives the
// implicit-rejection key SHAKE256(0 ‖ s ‖ ct) and no error, so the caller cannot tell; only
// a wrong size (kem.ErrCiphertextSize) or, for mceliece6960119*, nonzero padding bits
// (ErrCiphertextPadding, with the reference's 32 bytes of 0xFF) are reported.
func (s *Scheme) Decapsulate(sk kem.PrivateKey, ct []byte) ([]byte, error) {
	k, ok := sk.(*PrivateKey)
	if !ok || k == nil || k.s != s {
		return nil, kem.ErrTypeMismatch
	}
	if len(ct) != s.p.ctBytes {
		return nil, kem.ErrCiphertextSize
	}
	ss, padOK := s.p.decapsulate(k.raw, ct, k.expanded())
	if !padOK {
		return ss, ErrCiphertextPadding
	}
	return ss, nil
}

// UnmarshalBinaryPublicKey parses a public key. For mceliece6960119* a row with nonzero
// padding bits is rejected with kem.ErrPubKey (the reference refuses to encapsulate to it).
func (s *Scheme) UnmarshalBinaryPublicKey(b []byte) (kem.PublicKey, error) {
	if len(b) != s.p.pkBytes {
		return nil, kem.ErrPubKeySize
	}
	rows, ok := s.p.parsePublicRows(b)
	if !ok {
		return nil, kem.ErrPubKey
	}
	return &PublicKey{s: s, raw: bytes.Clone(b), rows: rows}, nil
}

// UnmarshalBinaryPrivateKey parses a secret key. Any byte string of the right size is
// accepted, as by the reference; Public regenerates the public key from δ when needed.
func (s *Scheme) UnmarshalBinaryPrivateKey(b []byte) (kem.PrivateKey, error) {
	if len(b) != s.p.skBytes {
		return nil, kem.ErrPrivKeySize
	}
	return &PrivateKey{s: s, raw: bytes.Clone(b)}, nil
}

// Scheme returns the key's parameter set.
func (k *PublicKey) Scheme() kem.Scheme { return k.s }

// MarshalBinary returns the public key bytes.
func (k *PublicKey) MarshalBinary() ([]byte, error) { return bytes.Clone(k.raw), nil }

// Equal reports whether other is the same public key of the same parameter set.
func (k *PublicKey) Equal(other kem.PublicKey) bool {
	o, ok := other.(*PublicKey)
	return ok && o != nil && o.s == k.s && bytes.Equal(o.raw, k.raw)
}

// Scheme returns the key's parameter set.
func (k *PrivateKey) Scheme() kem.Scheme { return k.s }

// MarshalBinary returns the secret key bytes in the reference layout.
func (k *PrivateKey) MarshalBinary() ([]byte, error) { return bytes.Clone(k.raw), nil }

// Equal reports, in constant time for keys of one scheme, whether other is the same key.
func (k *PrivateKey) Equal(other kem.PrivateKey) bool {
	o, ok := other.(*PrivateKey)
	return ok && o != nil && o.s == k.s && subtle.ConstantTimeCompare(o.raw, k.raw) == 1
}

// Public returns the public key. For a key parsed from bytes it is recomputed from the
// stored seed δ (a full key generation, about as slow as GenerateKeyPair); the stored
// secret key is not otherwise checked against it.
func (k *PrivateKey) Public() kem.PublicKey {
	k.pkOnce.Do(func() {
		if k.pk == nil {
			k.pk, _ = k.s.derive(k.raw[skDeltaOff : skDeltaOff+seedSize])
		}
	})
	return k.pk
}

// expanded returns the key's decapsulation tables (Beneš network as word masks, the
// weights 1/g(α)^2), computing them on first use.
func (k *PrivateKey) expanded() *expandedKey {
	k.expOnce.Do(func() { k.exp = k.s.p.expandKey(k.raw) })
	return k.exp
}
