package seal

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/echorelay/echorelay/mceliece/hybrid"
)

// Bundle layout (PROTOCOL.md section 7.1):
//
//	magic "ERB" || version u8 (1) || kem_id u16 || kem_pk_len u32 || kem_pk ||
//	ed25519_pk [32] || mldsa65_pk [1952] ||                      (the body)
//	ed25519_sig [64] || mldsa65_sig [3309]                       (over bundleLabel || body)
const (
	bundleMagic   = "ERB"
	bundleVersion = 1
	bundleLabel   = "echorelay-bundle-v1\x00"
	edSigSize     = ed25519.SignatureSize // 64
	dsaSigSize    = mldsa65.SignatureSize // 3309
	sigsSize      = edSigSize + dsaSigSize
	// FingerprintSize is the size of a Fingerprint.
	FingerprintSize = 32
)

// Fingerprint identifies a bundle: SHA-256 over its body (everything but the self-signatures).
type Fingerprint [FingerprintSize]byte

// String is the fingerprint in hex.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// Bundle is a person's public keys: a hybrid KEM key to seal to and two signature keys.
// It signs itself, so a bundle proves possession of both signing keys.
type Bundle struct {
	raw    []byte // the whole encoding
	body   []byte // raw without signatures
	fp     Fingerprint
	scheme kem.Scheme
	kemID  uint16
	kemPK  kem.PublicKey
	edPK   ed25519.PublicKey
	dsaPK  *mldsa65.PublicKey
}

// Bytes returns the encoding; do not modify it.
func (b *Bundle) Bytes() []byte { return b.raw }

// Fingerprint returns SHA-256 of the bundle body.
func (b *Bundle) Fingerprint() Fingerprint { return b.fp }

// KEMID is the hybrid KEM's wire identifier.
func (b *Bundle) KEMID() uint16 { return b.kemID }

func buildBundleBody(kemID uint16, kemPK []byte, edPK ed25519.PublicKey, dsaPK *mldsa65.PublicKey) []byte {
	body := make([]byte, 0, 3+1+2+4+len(kemPK)+ed25519.PublicKeySize+mldsa65.PublicKeySize)
	body = append(body, bundleMagic...)
	body = append(body, bundleVersion)
	body = binary.BigEndian.AppendUint16(body, kemID)
	body = binary.BigEndian.AppendUint32(body, uint32(len(kemPK)))
	body = append(body, kemPK...)
	body = append(body, edPK...)
	return append(body, dsaPK.Bytes()...)
}

// ParseBundle decodes and verifies a bundle: known KEM, valid keys, both self-signatures.
func ParseBundle(raw []byte) (*Bundle, error) {
	const fixed = 3 + 1 + 2 + 4
	if len(raw) < fixed || string(raw[:3]) != bundleMagic {
		return nil, fmt.Errorf("failed to parse bundle: %w: no bundle magic", ErrMalformed)
	}
	if raw[3] != bundleVersion {
		return nil, fmt.Errorf("failed to parse bundle: %w: version %d", ErrMalformed, raw[3])
	}
	b := &Bundle{kemID: binary.BigEndian.Uint16(raw[4:])}
	b.scheme = hybrid.ByID(b.kemID)
	if b.scheme == nil {
		return nil, fmt.Errorf("failed to parse bundle: %w: KEM %#04x", ErrUnknownAlgorithm, b.kemID)
	}
	n := uint64(binary.BigEndian.Uint32(raw[6:]))
	want := uint64(fixed) + n + ed25519.PublicKeySize + mldsa65.PublicKeySize + sigsSize
	if n != uint64(b.scheme.PublicKeySize()) || uint64(len(raw)) != want {
		return nil, fmt.Errorf("failed to parse bundle: %w: %d bytes with a KEM key of %d", ErrMalformed, len(raw), n)
	}
	off := fixed
	var err error
	if b.kemPK, err = b.scheme.UnmarshalBinaryPublicKey(raw[off : off+int(n)]); err != nil {
		return nil, fmt.Errorf("failed to parse bundle: %w: %v", ErrMalformed, err)
	}
	off += int(n)
	b.edPK = ed25519.PublicKey(raw[off : off+ed25519.PublicKeySize])
	off += ed25519.PublicKeySize
	b.dsaPK = new(mldsa65.PublicKey)
	if err := b.dsaPK.UnmarshalBinary(raw[off : off+mldsa65.PublicKeySize]); err != nil {
		return nil, fmt.Errorf("failed to parse bundle: %w: ML-DSA key: %v", ErrMalformed, err)
	}
	off += mldsa65.PublicKeySize
	b.raw, b.body = raw, raw[:off]
	if !b.verify([]byte(bundleLabel), b.body, raw[off:]) {
		return nil, fmt.Errorf("failed to parse bundle: %w: self-signature does not verify", ErrTampered)
	}
	b.fp = sha256.Sum256(b.body)
	return b, nil
}

// verify checks sigs = ed25519_sig || mldsa65_sig over label || msg. Both must verify.
func (b *Bundle) verify(label, msg, sigs []byte) bool {
	if len(sigs) != sigsSize {
		return false
	}
	m := append(append(make([]byte, 0, len(label)+len(msg)), label...), msg...)
	okEd := ed25519.Verify(b.edPK, m, sigs[:edSigSize])
	okDSA := mldsa65.Verify(b.dsaPK, m, nil, sigs[edSigSize:])
	return okEd && okDSA
}

// SafetyNumber is what two friends compare (read aloud, or side by side) to know that no relay
// or invite thief substituted a key: 60 decimal digits in 12 groups of 5. With the two
// fingerprints sorted (lower first), h = SHA-512("echorelay-safety-v1" || lower || higher) and
// group i is the big-endian integer of h[5i:5i+5] modulo 100000. Both sides get the same number.
func SafetyNumber(a, b Fingerprint) string {
	lo, hi := a, b
	if strings.Compare(string(hi[:]), string(lo[:])) < 0 {
		lo, hi = hi, lo
	}
	h := sha512.New()
	h.Write([]byte("echorelay-safety-v1"))
	h.Write(lo[:])
	h.Write(hi[:])
	return digitGroups(h.Sum(nil), 12)
}

// ShortID is an identity's own short fingerprint for people: 30 digits in 6 groups from
// SHA-512("echorelay-id-v1" || fingerprint), grouped as in SafetyNumber.
func ShortID(f Fingerprint) string {
	h := sha512.Sum512(append([]byte("echorelay-id-v1"), f[:]...))
	return digitGroups(h[:], 6)
}

func digitGroups(h []byte, n int) string {
	groups := make([]string, n)
	for i := range groups {
		var v uint64
		for _, c := range h[5*i : 5*i+5] {
			v = v<<8 | uint64(c)
		}
		groups[i] = fmt.Sprintf("%05d", v%100000)
	}
	return strings.Join(groups, " ")
}
