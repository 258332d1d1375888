package hybrid

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha3"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
)

// Component sizes that do not depend on the McEliece parameter set.
const (
	mlkemPublicKeySize  = mlkem768.PublicKeySize  // 1184
	mlkemCiphertextSize = mlkem768.CiphertextSize // 1088
	mlkemSeedSize       = mlkem768.KeySeedSize    // 64: d ‖ z (FIPS 203 seed form)
	mlkemEncapsSeedSize = mlkem768.EncapsulationSeedSize
	x25519Size          = 32 // private scalar, public u-coordinate, shared secret
	hashSize            = 32 // SHA3-256 output
)

// Sizes shared by every hybrid.
const (
	// SeedSize is the size of the seed taken by DeriveKeyPair.
	SeedSize = 32
	// EncapsulationSeedSize is the size of the seed taken by
	// EncapsulateDeterministically.
	EncapsulationSeedSize = 32
	// SharedKeySize is the size of every shared secret the hybrid returns.
	SharedKeySize = 32
)

// labelPrefix versions the construction. Changing anything in the combiner,
// the key formats or the seed expansion requires a new prefix and new
// identifiers.
const labelPrefix = "echorelay-hybrid-v1"

var mlkem = mlkem768.Scheme()

// Scheme is one hybrid of a Classic McEliece parameter set, ML-KEM-768 and
// X25519. It implements kem.Scheme. Obtain one from Default, New, ByID or All;
// each is a singleton, so schemes compare with ==.
type Scheme struct {
	id     uint16
	mcName string     // "mceliece6688128f"
	name   string     // "mceliece6688128f-mlkem768-x25519"
	label  []byte     // domain label, see HYBRID.md
	mc     kem.Scheme // the Classic McEliece component
}

var _ kem.Scheme = (*Scheme)(nil)

// newScheme builds a hybrid around mc. The registry calls it once per
// parameter set; tests call it with stand-in components.
func newScheme(id uint16, mcName string, mc kem.Scheme) *Scheme {
	return &Scheme{
		id:     id,
		mcName: mcName,
		name:   mcName + "-mlkem768-x25519",
		label:  []byte(fmt.Sprintf("%s/%04x/%s+mlkem768+x25519", labelPrefix, id, mcName)),
		mc:     mc,
	}
}

// ID returns the stable algorithm identifier that goes on the wire.
func (s *Scheme) ID() uint16 { return s.id }

// McEliece returns the Classic McEliece component scheme.
func (s *Scheme) McEliece() kem.Scheme { return s.mc }

// Name returns e.g. "mceliece6688128f-mlkem768-x25519".
func (s *Scheme) Name() string { return s.name }

// PublicKeySize is |mc pk| + 1184 + 32.
func (s *Scheme) PublicKeySize() int {
	return s.mc.PublicKeySize() + mlkemPublicKeySize + x25519Size
}

// PrivateKeySize is |mc sk| + 64 + 32 + 32.
func (s *Scheme) PrivateKeySize() int {
	return s.mc.PrivateKeySize() + mlkemSeedSize + x25519Size + hashSize
}

// CiphertextSize is |mc ct| + 1088 + 32.
func (s *Scheme) CiphertextSize() int {
	return s.mc.CiphertextSize() + mlkemCiphertextSize + x25519Size
}

// SharedKeySize is 32.
func (s *Scheme) SharedKeySize() int { return SharedKeySize }

// SeedSize is 32.
func (s *Scheme) SeedSize() int { return SeedSize }

// EncapsulationSeedSize is 32.
func (s *Scheme) EncapsulationSeedSize() int { return EncapsulationSeedSize }

// expand derives n bytes for one component from a hybrid seed:
// SHAKE256(label ‖ "/" ‖ purpose ‖ "/" ‖ component ‖ 0x00 ‖ seed).
func (s *Scheme) expand(purpose, component string, seed []byte, n int) []byte {
	in := make([]byte, 0, len(s.label)+len(purpose)+len(component)+3+len(seed))
	in = append(in, s.label...)
	in = append(in, '/')
	in = append(in, purpose...)
	in = append(in, '/')
	in = append(in, component...)
	in = append(in, 0)
	in = append(in, seed...)
	return sha3.SumSHAKE256(in, n)
}

// GenerateKeyPair draws a 32-byte seed from crypto/rand and calls
// DeriveKeyPair.
func (s *Scheme) GenerateKeyPair() (kem.PublicKey, kem.PrivateKey, error) {
	seed := make([]byte, SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, nil, fmt.Errorf("failed to generate key pair: %w", err)
	}
	pk, sk := s.DeriveKeyPair(seed)
	return pk, sk, nil
}

// DeriveKeyPair derives a key pair from a 32-byte seed. Each component gets
// its own SHAKE256-expanded seed. As kem.Scheme requires, it panics with
// kem.ErrSeedSize when len(seed) != SeedSize.
func (s *Scheme) DeriveKeyPair(seed []byte) (kem.PublicKey, kem.PrivateKey) {
	if len(seed) != SeedSize {
		panic(kem.ErrSeedSize)
	}
	mcPK, mcSK := s.mc.DeriveKeyPair(s.expand("keygen", "mceliece", seed, s.mc.SeedSize()))
	mcBytes, err := mcPK.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("hybrid: McEliece public key does not marshal: %v", err))
	}
	mlSeed := s.expand("keygen", "mlkem768", seed, mlkemSeedSize)
	mlPK, mlSK := mlkem.DeriveKeyPair(mlSeed)
	xSK, err := ecdh.X25519().NewPrivateKey(s.expand("keygen", "x25519", seed, x25519Size))
	if err != nil {
		panic(err) // unreachable: every 32-byte string is an X25519 private key
	}

	pk := &PublicKey{
		scheme: s,
		mc:     mcPK,
		mcHash: sha3.Sum256(mcBytes),
		ml:     mlPK,
		mlHash: hashOf(mlPK),
		x:      xSK.PublicKey(),
	}
	pk.xHash = sha3.Sum256(pk.x.Bytes())

	sk := &PrivateKey{
		scheme: s,
		mc:     mcSK,
		ml:     mlSK,
		x:      xSK,
		hashes: [3][hashSize]byte{pk.mcHash, pk.mlHash, pk.xHash},
	}
	copy(sk.mlSeed[:], mlSeed)
	sk.pubOnce.Do(func() { sk.pub = pk })
	return pk, sk
}

// Encapsulate draws a 32-byte seed from crypto/rand and calls
// EncapsulateDeterministically.
func (s *Scheme) Encapsulate(pk kem.PublicKey) (ct, ss []byte, err error) {
	seed := make([]byte, EncapsulationSeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, nil, fmt.Errorf("failed to encapsulate: %w", err)
	}
	return s.EncapsulateDeterministically(pk, seed)
}

// EncapsulateDeterministically encapsulates to pk with all randomness derived
// from a 32-byte seed. Use it for test vectors only.
func (s *Scheme) EncapsulateDeterministically(pk kem.PublicKey, seed []byte) (ct, ss []byte, err error) {
	pub, ok := pk.(*PublicKey)
	if !ok || pub == nil || pub.scheme != s {
		return nil, nil, fmt.Errorf("failed to encapsulate: %w", kem.ErrTypeMismatch)
	}
	if len(seed) != EncapsulationSeedSize {
		return nil, nil, fmt.Errorf("failed to encapsulate: %w", kem.ErrSeedSize)
	}

	ctMC, ssMC, err := s.mc.EncapsulateDeterministically(pub.mc,
		s.expand("encaps", "mceliece", seed, s.mc.EncapsulationSeedSize()))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to encapsulate (McEliece): %w", err)
	}
	ctML, ssML, err := mlkem.EncapsulateDeterministically(pub.ml,
		s.expand("encaps", "mlkem768", seed, mlkemEncapsSeedSize))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to encapsulate (ML-KEM): %w", err)
	}
	eph, err := ecdh.X25519().NewPrivateKey(s.expand("encaps", "x25519", seed, x25519Size))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to encapsulate (X25519): %w", err)
	}
	ssX, err := eph.ECDH(pub.x)
	if err != nil {
		// Only a low-order point gets here, and UnmarshalBinaryPublicKey
		// already refuses those.
		return nil, nil, fmt.Errorf("failed to encapsulate (X25519): %w", kem.ErrPubKey)
	}
	ctX := eph.PublicKey().Bytes()
	if len(ctMC) != s.mc.CiphertextSize() || len(ctML) != mlkemCiphertextSize {
		return nil, nil, errors.New("failed to encapsulate: component ciphertext has the wrong size")
	}

	ct = make([]byte, 0, s.CiphertextSize())
	ct = append(ct, ctMC...)
	ct = append(ct, ctML...)
	ct = append(ct, ctX...)
	ss = s.combine(ssMC, ssML, ssX, ctMC, ctML, ctX, &pub.mcHash, &pub.mlHash, &pub.xHash)
	return ct, ss, nil
}

// Decapsulate recovers the shared secret from ct. Any ciphertext of the right
// size yields 32 bytes and no error: ML-KEM and McEliece reject implicitly, and
// a component share that fails a public format check (an X25519 low-order
// point, McEliece padding bits) contributes zero bytes. Only a wrong size or a
// foreign key is an error.
func (s *Scheme) Decapsulate(sk kem.PrivateKey, ct []byte) ([]byte, error) {
	priv, ok := sk.(*PrivateKey)
	if !ok || priv == nil || priv.scheme != s {
		return nil, fmt.Errorf("failed to decapsulate: %w", kem.ErrTypeMismatch)
	}
	if len(ct) != s.CiphertextSize() {
		return nil, fmt.Errorf("failed to decapsulate: %w", kem.ErrCiphertextSize)
	}
	nMC := s.mc.CiphertextSize()
	ctMC := ct[:nMC]
	ctML := ct[nMC : nMC+mlkemCiphertextSize]
	ctX := ct[nMC+mlkemCiphertextSize:]

	ssMC, err := s.mc.Decapsulate(priv.mc, ctMC)
	if err != nil || len(ssMC) != s.mc.SharedKeySize() {
		// The sizes and key type are right, so the component rejected the
		// ciphertext explicitly on a public format check (mceliece6960119*
		// padding bits). That depends on the ciphertext alone: substitute
		// zeros, as for a low-order X25519 share, and reject implicitly at
		// the hybrid level. The ciphertext is hashed into the secret.
		ssMC = make([]byte, s.mc.SharedKeySize())
	}
	ssML, err := mlkem.Decapsulate(priv.ml, ctML)
	if err != nil {
		return nil, fmt.Errorf("failed to decapsulate (ML-KEM): %w", err)
	}
	ssX := make([]byte, x25519Size)
	if eph, err := ecdh.X25519().NewPublicKey(ctX); err == nil {
		// ECDH fails only when the result is zero (a low-order share). That
		// depends on the public ciphertext alone, so the branch leaks
		// nothing; the zero value stays and the other components carry the
		// secret.
		if shared, err := priv.x.ECDH(eph); err == nil {
			ssX = shared
		}
	}
	return s.combine(ssMC, ssML, ssX, ctMC, ctML, ctX,
		&priv.hashes[0], &priv.hashes[1], &priv.hashes[2]), nil
}

// combine is the KEM combiner:
//
//	SHA3-256(label ‖ ss_mc ‖ ss_mlkem ‖ ss_x ‖ ct_mc ‖ ct_mlkem ‖ ct_x ‖
//	         H(pk_mc) ‖ H(pk_mlkem) ‖ H(pk_x))
//
// with H = SHA3-256. Every field has a fixed size for a given scheme and the
// label names the scheme, so the encoding is injective.
func (s *Scheme) combine(ssMC, ssML, ssX, ctMC, ctML, ctX []byte, hMC, hML, hX *[hashSize]byte) []byte {
	h := sha3.New256()
	for _, b := range [][]byte{s.label, ssMC, ssML, ssX, ctMC, ctML, ctX, hMC[:], hML[:], hX[:]} {
		_, _ = h.Write(b)
	}
	return h.Sum(nil)
}

// hashOf returns SHA3-256 of a marshalled component public key. For ML-KEM it
// equals the H(ek) of FIPS 203.
func hashOf(pk kem.PublicKey) [hashSize]byte {
	b, err := pk.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("hybrid: component public key does not marshal: %v", err))
	}
	return sha3.Sum256(b)
}
