package echo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"
)

// Stamps (PROTOCOL.md section 6): a proof of work bound to one envelope. With E0 the envelope
// encoded with stamp_len 0, a stamp s has cost k when
//
//	SHA-256("echorelay-stamp-v1" || SHA-256(E0) || s)
//
// starts with k zero bits. A relay asks for a base cost in its HELLO's stamp_bits; verifying
// costs two hashes, making one costs about 2^k. A relay that sets FeatureStampScaled asks more
// of a blob that is larger or lives longer (StampCostFor): the expected work grows with its
// bytes times its lifetime, so that filling a cache for a month costs what it takes from
// others.
const (
	// MaxStampBits is the largest cost a relay may ask for and a client computes: 2^32 hashes
	// are minutes on a phone, already far beyond what a relay for people should demand.
	MaxStampBits = 32
	stampDomain  = "echorelay-stamp-v1"
	// makeStampLen is the length of stamps MakeStamp produces: a 5-byte counter keeps the
	// hashed message at 55 bytes, one SHA-256 block, and 2^40 candidates are 2^8 times the
	// expected work at MaxStampBits.
	makeStampLen = 5

	// FeatureStampScaled is HELLO feature bit 1: the stamp cost the sender asks grows with an
	// envelope's payload and lifetime (StampCostFor); without it stamp_bits is the cost.
	FeatureStampScaled uint64 = 1 << 1
	// StampBlock and StampDay are the units of a scaled stamp cost: each doubling of a blob's
	// 64 KiB blocks times its days of life asks one bit more.
	StampBlock = 64 << 10
	StampDay   = 24 * 60 * 60
	// StampSlack is the clock difference a relay allows a client computing a scaled cost: it
	// counts the lifetime from 10 minutes (DefaultMaxSkew) after its own now.
	StampSlack = 10 * 60
)

// ScaledStampBits is the stamp cost asked of an envelope of payloadLen bytes that expires at
// expiry (unix seconds), for base cost base, counted from now less slack seconds of lifetime
// (PROTOCOL.md section 6):
//
//	B = max(1, ceil(payloadLen / StampBlock))
//	D = max(1, ceil((expiry - now - slack) / StampDay))
//	cost = min(MaxStampBits, base + ceil(log2(B * D)))
//
// so that 2^cost, the expected work, is at least 2^base * B * D. Base 0 asks nothing.
func ScaledStampBits(base, payloadLen int, expiry, now, slack int64) int {
	if base <= 0 {
		return 0
	}
	b := max(1, (int64(payloadLen)+StampBlock-1)/StampBlock)
	d := int64(1)
	if t := expiry - now - slack; t > StampDay {
		d = (t + StampDay - 1) / StampDay
	}
	n := uint64(b) * uint64(min(d, 1<<31)) // both small: payloads are below 4 GiB
	return min(MaxStampBits, base+bits.Len64(n-1))
}

// StampCostFor is the cost a client stamps env with for the relay whose HELLO is h, computed
// with the client's clock: ScaledStampBits with no slack when h sets FeatureStampScaled,
// h.StampBits otherwise. A client MAY exceed it; the relay allows StampSlack.
func StampCostFor(h Hello, env []byte, now time.Time) (int, error) {
	if h.StampBits == 0 {
		return 0, nil
	}
	if h.Features&FeatureStampScaled == 0 {
		return int(h.StampBits), nil
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		return 0, err
	}
	return ScaledStampBits(int(h.StampBits), len(e.Payload), e.Expiry, now.Unix(), 0), nil
}

// CheckScaledStamp is CheckStamp for a relay that sets FeatureStampScaled: env must carry a
// stamp of ScaledStampBits(base, ...) counted from now with StampSlack.
func CheckScaledStamp(env []byte, base int, now time.Time) error {
	if base <= 0 {
		return nil
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		return err
	}
	want := ScaledStampBits(base, len(e.Payload), e.Expiry, now.Unix(), StampSlack)
	if want == base {
		return CheckStamp(env, want)
	}
	if err := CheckStamp(env, want); err != nil {
		days := max(1, (e.Expiry-now.Unix()-StampSlack+StampDay-1)/StampDay)
		return fmt.Errorf("%w (%d base bits, more for %d KiB living %d days: PROTOCOL.md section 6)", err, base, (len(e.Payload)+1023)/1024, days)
	}
	return nil
}

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
