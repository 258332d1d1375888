package echo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Stamps (PROTOCOL.md section 6): a proof of work bound to one envelope. With E0 the envelope
// encoded with stamp_len 0, a stamp s has cost k when
//
//	SHA-256("echorelay-stamp-v1" || SHA-256(E0) || s)
//
// starts with k zero bits. A relay asks for a cost in its HELLO's stamp_bits; verifying costs
// two hashes, making one costs about 2^k.
const (
	// MaxStampBits is the largest cost a relay may ask for and a client computes: 2^32 hashes
	// are minutes on a phone, already far beyond what a relay for people should demand.
	MaxStampBits = 32
	stampDomain  = "echorelay-stamp-v1"
	// makeStampLen is the length of stamps MakeStamp produces: a 5-byte counter keeps the
	// hashed message at 55 bytes, one SHA-256 block, and 2^40 candidates are 2^8 times the
	// expected work at MaxStampBits.
	makeStampLen = 5
)

// stampDigest is SHA-256(domain || SHA-256(E0) || stamp).
func stampDigest(e0sum [32]byte, stamp []byte) [32]byte {
	var buf [len(stampDomain) + 32 + MaxStampLen]byte
	n := copy(buf[:], stampDomain)
	n += copy(buf[n:], e0sum[:])
	n += copy(buf[n:], stamp)
	return sha256.Sum256(buf[:n])
}

// leadingZeroBits counts the zero bits at the start of d.
func leadingZeroBits(d [32]byte) int {
	n := 0
	for i := 0; i < len(d); i += 8 {
		w := binary.BigEndian.Uint64(d[i:])
		if w != 0 {
			return n + bits.LeadingZeros64(w)
		}
		n += 64
	}
	return n
}

// StampCost returns the cost (leading zero bits) of the stamp env carries, 0 without one.
func StampCost(env []byte) (int, error) {
	e, err := ParseEnvelope(env)
	if err != nil {
		return 0, err
	}
	if len(e.Stamp) == 0 {
		return 0, nil
	}
	return leadingZeroBits(stampDigest(sha256.Sum256(e.WithoutStamp()), e.Stamp)), nil
}

// CheckStamp returns nil when env carries a stamp of at least the given cost (always for
// bits 0), ErrStampRequired otherwise, or the envelope's parse error.
func CheckStamp(env []byte, bits int) error {
	if bits <= 0 {
		return nil
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		return err
	}
	if len(e.Stamp) == 0 {
		return fmt.Errorf("%w: this relay asks for a stamp of %d bits", ErrStampRequired, bits)
	}
	got := leadingZeroBits(stampDigest(sha256.Sum256(e.WithoutStamp()), e.Stamp))
	if got < bits {
		return fmt.Errorf("%w: the stamp is worth %d bits, this relay asks for %d", ErrStampRequired, got, bits)
	}
	return nil
}

// MakeStamp finds a stamp of at least the given cost for env (any stamp env already carries is
// ignored: the stamp binds E0). It tries at most 2^(bits+8) candidates and stops early when ctx
// ends. bits must be 1..MaxStampBits.
func MakeStamp(ctx context.Context, env []byte, bits int) ([]byte, error) {
	if bits < 1 || bits > MaxStampBits {
		return nil, fmt.Errorf("stamp cost %d is outside 1..%d", bits, MaxStampBits)
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(e.WithoutStamp())
	var buf [len(stampDomain) + 32 + makeStampLen]byte
	copy(buf[:], stampDomain)
	copy(buf[len(stampDomain):], sum[:])
	ctr := buf[len(stampDomain)+32:]
	limit := uint64(1) << (bits + 8)
	for i := uint64(0); i < limit; i++ {
		if i&0xFFFF == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("stamp of %d bits not found: %w", bits, ctx.Err())
		}
		ctr[0] = byte(i >> 32)
		binary.BigEndian.PutUint32(ctr[1:], uint32(i))
		if leadingZeroBits(sha256.Sum256(buf[:])) >= bits {
			return append([]byte(nil), ctr...), nil
		}
	}
	return nil, fmt.Errorf("no stamp of %d bits within %d tries", bits, limit)
}

// StampEnvelope returns env carrying a stamp of at least the given cost (env itself for
// bits <= 0).
func StampEnvelope(ctx context.Context, env []byte, bits int) ([]byte, error) {
	if bits <= 0 {
		return env, nil
	}
	s, err := MakeStamp(ctx, env, bits)
	if err != nil {
		return nil, err
	}
	e, _ := ParseEnvelope(env) // parsed by MakeStamp
	e.Stamp = s
	return e.Marshal()
}
