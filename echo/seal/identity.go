package seal

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha3"
	"encoding/binary"
	"fmt"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/echorelay/echorelay/mceliece/hybrid"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Identity is a person's private keys and their public Bundle. It holds no name, number or
// account: the Bundle's fingerprint is the only identifier.
type Identity struct {
	scheme  kem.Scheme
	kemSK   kem.PrivateKey
	kemSKB  []byte
	edSeed  [ed25519.SeedSize]byte
	edSK    ed25519.PrivateKey
	dsaSeed [mldsa65.SeedSize]byte
	dsaSK   *mldsa65.PrivateKey
	bundle  *Bundle
}

// GenerateIdentity makes a fresh identity whose KEM is scheme (hybrid.Default() normally; any
// hybrid of package mceliece/hybrid works). McEliece key generation takes about a second.
func GenerateIdentity(scheme kem.Scheme) (*Identity, error) {
	var edSeed [ed25519.SeedSize]byte
	var dsaSeed [mldsa65.SeedSize]byte
	kemSeed := make([]byte, scheme.SeedSize())
	for _, b := range [][]byte{edSeed[:], dsaSeed[:], kemSeed} {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("failed to generate identity: %w", err)
		}
	}
	return identityFromSeeds(scheme, edSeed, dsaSeed, kemSeed, nil)
}

// identityFromSeeds builds an identity from its seeds. bundleSigs, when not nil, are the
// bundle's self-signatures (the test vectors pin them: ML-DSA signs in hedged mode); nil signs
// afresh.
func identityFromSeeds(scheme kem.Scheme, edSeed [ed25519.SeedSize]byte, dsaSeed [mldsa65.SeedSize]byte, kemSeed, bundleSigs []byte) (*Identity, error) {
	kemID, ok := hybrid.IDOf(scheme)
	if !ok {
		return nil, fmt.Errorf("failed to generate identity: %w: %s is not a hybrid of this build", ErrUnknownAlgorithm, scheme.Name())
	}
	id := &Identity{scheme: scheme, edSeed: edSeed, dsaSeed: dsaSeed}
	pk, sk := scheme.DeriveKeyPair(kemSeed)
	id.kemSK = sk
	var err error
	if id.kemSKB, err = sk.MarshalBinary(); err != nil {
		return nil, err
	}
	pkb, err := pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	id.deriveSigners()
	body := buildBundleBody(kemID, pkb, id.edSK.Public().(ed25519.PublicKey), id.dsaSK.Public().(*mldsa65.PublicKey))
	if bundleSigs == nil {
		bundleSigs = id.sign([]byte(bundleLabel), body)
	}
	if id.bundle, err = ParseBundle(append(body, bundleSigs...)); err != nil {
		return nil, fmt.Errorf("failed to generate identity: own bundle: %w", err)
	}
	return id, nil
}

func (id *Identity) deriveSigners() {
	id.edSK = ed25519.NewKeyFromSeed(id.edSeed[:])
	_, id.dsaSK = mldsa65.NewKeyFromSeed(&id.dsaSeed)
}

// sign returns ed25519_sig || mldsa65_sig over label || msg. ML-DSA signs in its hedged
// (randomized) mode.
func (id *Identity) sign(label, msg []byte) []byte {
	m := append(append(make([]byte, 0, len(label)+len(msg)), label...), msg...)
	out := make([]byte, sigsSize)
	copy(out, ed25519.Sign(id.edSK, m))
	if err := mldsa65.SignTo(id.dsaSK, m, nil, true, out[edSigSize:]); err != nil {
		panic(fmt.Sprintf("seal: ML-DSA-65 signing failed: %v", err)) // only for a bad ctx length
	}
	return out
}

// Bundle returns the public bundle.
func (id *Identity) Bundle() *Bundle { return id.bundle }

// Fingerprint returns the bundle's fingerprint.
func (id *Identity) Fingerprint() Fingerprint { return id.bundle.fp }

// HistoryKey is the 32-byte key under which a client encrypts what it keeps about this
// identity's conversations (history.db; PROTOCOL.md section 7.6):
//
//	HKDF-SHA3-256(ikm = ed25519_seed || mldsa65_seed, salt = "echorelay-history-v1",
//	              info = fingerprint, 32)
//
// It is derived, not stored: every identity file, old ones included, has it, and it is exactly
// as protected as the file (a passphrase-protected identity must be unlocked to read the
// history).
func (id *Identity) HistoryKey() [32]byte {
	ikm := append(append(make([]byte, 0, len(id.edSeed)+len(id.dsaSeed)), id.edSeed[:]...), id.dsaSeed[:]...)
	k, err := hkdf.Key(sha3.New256, ikm, []byte(historySalt), string(id.bundle.fp[:]), 32)
	if err != nil {
		panic(err) // unreachable: 32 bytes is far below HKDF's limit
	}
	return [32]byte(k)
}

const historySalt = "echorelay-history-v1"

// Identity file layout (PROTOCOL.md section 7.6):
//
//	magic "ERID" || version u8 (1) || protection u8 || [argon2id header] || body
//	protection 0: body in clear
//	protection 1: salt [16] || time u32 || memory_kib u32 || threads u8 || nonce [24] ||
//	              XChaCha20-Poly1305(Argon2id(passphrase, salt, ...), nonce, body,
//	              ad = every byte before the ciphertext)
//	body = ed25519_seed [32] || mldsa65_seed [32] || kem_sk_len u32 || kem_sk ||
//	       bundle_len u32 || bundle
const (
	idMagic       = "ERID"
	idVersion     = 1
	protNone      = 0
	protArgon2id  = 1
	argonSaltSize = 16
)

// Argon2id cost of a new passphrase-protected identity: 64 MiB and 3 passes, about a second
// on a Raspberry Pi 4 (RFC 9106's second recommendation, for memory-constrained devices).
var defaultArgon = argonParams{time: 3, memoryKiB: 64 << 10, threads: 2}

type argonParams struct {
	time, memoryKiB uint32
	threads         uint8
}

// Marshal encodes the identity for its file. With a non-empty passphrase the body is wrapped
// under a key from Argon2id.
func (id *Identity) Marshal(passphrase []byte) ([]byte, error) {
	return id.marshal(passphrase, defaultArgon)
}

func (id *Identity) marshal(passphrase []byte, ap argonParams) ([]byte, error) {
	body := make([]byte, 0, 64+8+len(id.kemSKB)+len(id.bundle.raw))
	body = append(body, id.edSeed[:]...)
	body = append(body, id.dsaSeed[:]...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(id.kemSKB)))
	body = append(body, id.kemSKB...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(id.bundle.raw)))
	body = append(body, id.bundle.raw...)
	out := []byte(idMagic)
	out = append(out, idVersion)
	if len(passphrase) == 0 {
		return append(append(out, protNone), body...), nil
	}
	out = append(out, protArgon2id)
	salt := make([]byte, argonSaltSize)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, ap.time)
	out = binary.BigEndian.AppendUint32(out, ap.memoryKiB)
	out = append(out, ap.threads)
	out = append(out, nonce...)
	aead, _ := chacha20poly1305.NewX(argon2.IDKey(passphrase, salt, ap.time, ap.memoryKiB, ap.threads, chacha20poly1305.KeySize))
	return aead.Seal(out, nonce, body, out), nil
}

// IsProtected reports whether an identity file needs a passphrase.
func IsProtected(file []byte) bool {
	return len(file) > 5 && string(file[:4]) == idMagic && file[5] == protArgon2id
}

// ParseIdentity decodes an identity file, unwrapping it with passphrase when it is protected.
func ParseIdentity(file, passphrase []byte) (*Identity, error) {
	if len(file) < 6 || string(file[:4]) != idMagic || file[4] != idVersion {
		return nil, fmt.Errorf("failed to read identity: %w: not an echorelay identity file", ErrMalformed)
	}
	body := file[6:]
	switch file[5] {
	case protNone:
	case protArgon2id:
		const hdr = 6 + argonSaltSize + 4 + 4 + 1 + chacha20poly1305.NonceSizeX
		if len(file) < hdr+chacha20poly1305.Overhead {
			return nil, fmt.Errorf("failed to read identity: %w: truncated", ErrMalformed)
		}
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("failed to read identity: %w", ErrPassphrase)
		}
		salt := file[6 : 6+argonSaltSize]
		p := file[6+argonSaltSize:]
		ap := argonParams{time: binary.BigEndian.Uint32(p), memoryKiB: binary.BigEndian.Uint32(p[4:]), threads: p[8]}
		if ap.time == 0 || ap.time > 100 || ap.memoryKiB < 8 || ap.memoryKiB > 4<<20 || ap.threads == 0 {
			return nil, fmt.Errorf("failed to read identity: %w: Argon2id parameters out of range", ErrMalformed)
		}
		nonce := file[hdr-chacha20poly1305.NonceSizeX : hdr]
		aead, _ := chacha20poly1305.NewX(argon2.IDKey(passphrase, salt, ap.time, ap.memoryKiB, ap.threads, chacha20poly1305.KeySize))
		var err error
		if body, err = aead.Open(nil, nonce, file[hdr:], file[:hdr]); err != nil {
			return nil, fmt.Errorf("failed to read identity: %w", ErrPassphrase)
		}
	default:
		return nil, fmt.Errorf("failed to read identity: %w: protection %d", ErrMalformed, file[5])
	}
	return parseIdentityBody(body)
}

func parseIdentityBody(body []byte) (*Identity, error) {
	bad := fmt.Errorf("failed to read identity: %w: inconsistent body", ErrMalformed)
	if len(body) < 64+4 {
		return nil, bad
	}
	id := &Identity{}
	copy(id.edSeed[:], body)
	copy(id.dsaSeed[:], body[32:])
	rest := body[64:]
	n := uint64(binary.BigEndian.Uint32(rest))
	if uint64(len(rest)) < 4+n+4 {
		return nil, bad
	}
	id.kemSKB = append([]byte(nil), rest[4:4+n]...)
	rest = rest[4+n:]
	m := uint64(binary.BigEndian.Uint32(rest))
	if uint64(len(rest)) != 4+m {
		return nil, bad
	}
	var err error
	if id.bundle, err = ParseBundle(append([]byte(nil), rest[4:]...)); err != nil {
		return nil, fmt.Errorf("failed to read identity: %w", err)
	}
	id.scheme = id.bundle.scheme
	if id.kemSK, err = id.scheme.UnmarshalBinaryPrivateKey(id.kemSKB); err != nil {
		return nil, fmt.Errorf("failed to read identity: %w: %v", ErrMalformed, err)
	}
	id.deriveSigners()
	// A KEM round trip (milliseconds) proves that the private key matches the bundle.
	ct, ss, err := id.scheme.Encapsulate(id.bundle.kemPK)
	if err != nil {
		return nil, fmt.Errorf("failed to read identity: %w", err)
	}
	if ss2, err := id.scheme.Decapsulate(id.kemSK, ct); err != nil || string(ss2) != string(ss) {
		return nil, fmt.Errorf("failed to read identity: %w: KEM private key does not match the bundle", ErrMalformed)
	}
	if !id.edSK.Public().(ed25519.PublicKey).Equal(id.bundle.edPK) || !id.dsaSK.Public().(*mldsa65.PublicKey).Equal(id.bundle.dsaPK) {
		return nil, fmt.Errorf("failed to read identity: %w: signing keys do not match the bundle", ErrMalformed)
	}
	return id, nil
}
