package echo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// costOf recomputes a stamp's cost straight from PROTOCOL.md section 6, without the package's
// helpers.
func costOf(t *testing.T, stamped []byte) int {
	t.Helper()
	e, err := ParseEnvelope(stamped)
	if err != nil {
		t.Fatal(err)
	}
	e0 := append([]byte(nil), stamped[:42]...)
	e0 = append(e0, 0)
	e0 = append(e0, stamped[43+len(e.Stamp):]...)
	h0 := sha256.Sum256(e0)
	msg := append([]byte("echorelay-stamp-v1"), h0[:]...)
	d := sha256.Sum256(append(msg, e.Stamp...))
	n := 0
	for _, b := range d {
		for m := byte(0x80); m != 0; m >>= 1 {
			if b&m != 0 {
				return n
			}
			n++
		}
	}
	return n
}

func TestStampMakeAndCheck(t *testing.T) {
	env := sampleEnvelope(t, 0, 100)
	for _, bits := range []int{1, 8, 14} {
		stamped, err := StampEnvelope(context.Background(), env, bits)
		if err != nil {
			t.Fatal(err)
		}
		got := costOf(t, stamped)
		if got < bits {
			t.Fatalf("bits %d: stamp worth %d by the spec's definition", bits, got)
		}
		if c, err := StampCost(stamped); err != nil || c != got {
			t.Fatalf("StampCost %d %v, spec says %d", c, err, got)
		}
		if err := CheckStamp(stamped, bits); err != nil {
			t.Fatalf("bits %d: %v", bits, err)
		}
		if err := CheckStamp(stamped, got+1); !errors.Is(err, ErrStampRequired) {
			t.Fatalf("a stamp worth %d passed a check for %d: %v", got, got+1, err)
		}
		// The stamp binds the envelope: another payload, expiry or tag makes it worthless
		// (with overwhelming probability at these costs; checked against the spec's cost).
		for _, off := range []int{5, 20, len(stamped) - 1} {
			bad := append([]byte(nil), stamped...)
			bad[off] ^= 1
			if costOf(t, bad) >= bits {
				continue // a lucky collision, not a bug
			}
			if err := CheckStamp(bad, bits); !errors.Is(err, ErrStampRequired) {
				t.Fatalf("tampered byte %d: %v", off, err)
			}
		}
	}
}

// A pinned vector: any change to the stamp definition breaks it.
func TestStampVector(t *testing.T) {
	env := sampleEnvelope(t, 0, 10)
	s, err := MakeStamp(context.Background(), env, 12)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(s); got != stampVector12 {
		t.Fatalf("stamp %s, pinned %s", got, stampVector12)
	}
}

const stampVector12 = "00000011e0"

func TestStampRejects(t *testing.T) {
	env := sampleEnvelope(t, 0, 10)
	if err := CheckStamp(env, 0); err != nil {
		t.Fatalf("cost 0 needs no stamp: %v", err)
	}
	if err := CheckStamp(env, 4); !errors.Is(err, ErrStampRequired) {
		t.Fatalf("no stamp: %v", err)
	}
	junk := sampleEnvelope(t, 32, 10) // a stamp of 32 bytes of 7s
	if costOf(t, junk) < 20 {
		if err := CheckStamp(junk, 20); !errors.Is(err, ErrStampRequired) {
			t.Fatalf("junk stamp: %v", err)
		}
	}
	if err := CheckStamp([]byte{1, 0, 0}, 4); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage envelope: %v", err)
	}
	if _, err := MakeStamp(context.Background(), env, 0); err == nil {
		t.Fatal("cost 0 accepted by MakeStamp")
	}
	if _, err := MakeStamp(context.Background(), env, MaxStampBits+1); err == nil {
		t.Fatal("cost above MaxStampBits accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := MakeStamp(ctx, env, MaxStampBits); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled MakeStamp: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancelled MakeStamp did not stop")
	}
}

func BenchmarkMakeStamp16(b *testing.B) {
	env := sampleEnvelope(b, 0, 1000)
	for i := 0; b.Loop(); i++ {
		env[len(env)-1] = byte(i)
		if _, err := MakeStamp(context.Background(), env, 16); err != nil {
			b.Fatal(err)
		}
	}
}

// The memory of IDs flooded without being stored forgets the oldest first and never grows
// past unstoredMemory.
func TestRecentIDs(t *testing.T) {
	var s recentIDs
	id := func(i int) ID { var x ID; x[0], x[1], x[2] = byte(i), byte(i>>8), byte(i>>16); return x }
	for i := 0; i < unstoredMemory+10; i++ {
		if !s.add(id(i)) {
			t.Fatalf("%d reported as seen", i)
		}
	}
	if s.add(id(unstoredMemory)) || s.add(id(11)) {
		t.Fatal("a remembered ID was added again")
	}
	if !s.add(id(3)) {
		t.Fatal("the oldest IDs were not forgotten")
	}
	if len(s.set) != unstoredMemory || len(s.ring) != unstoredMemory {
		t.Fatalf("set %d ring %d, want %d", len(s.set), len(s.ring), unstoredMemory)
	}
}

// FuzzCheckStamp: on any input CheckStamp agrees with StampCost and never panics.
func FuzzCheckStamp(f *testing.F) {
	f.Add(sampleEnvelope(f, 0, 10), uint8(4))
	f.Add(sampleEnvelope(f, 5, 10), uint8(1))
	f.Add(sampleEnvelope(f, 32, 0), uint8(32))
	f.Add([]byte{1, 0}, uint8(8))
	f.Fuzz(func(t *testing.T, b []byte, k uint8) {
		bits := int(k % (MaxStampBits + 1))
		err := CheckStamp(b, bits)
		cost, cerr := StampCost(b)
		switch {
		case bits == 0:
			if err != nil {
				t.Fatalf("cost 0 refused: %v", err)
			}
		case cerr != nil:
			if !errors.Is(err, ErrMalformed) || !errors.Is(cerr, ErrMalformed) {
				t.Fatalf("an unparseable envelope: CheckStamp %v, StampCost %v; want ErrMalformed from both", err, cerr)
			}
		case (err == nil) != (cost >= bits && hasStamp(b)):
			t.Fatalf("CheckStamp %v but cost %d for %d bits", err, cost, bits)
		case err != nil && !errors.Is(err, ErrStampRequired):
			t.Fatalf("a parseable envelope refused without ErrStampRequired: %v", err)
		}
	})
}

func hasStamp(b []byte) bool { e, err := ParseEnvelope(b); return err == nil && len(e.Stamp) > 0 }

// The scaled cost against the vectors of testdata/stamp/cost.txt, each also recomputed from
// the formula of PROTOCOL.md section 6 in floating point.
func TestScaledStampVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/stamp/cost.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var base, payload, life, slack, want int64
		if _, err := fmt.Sscan(line, &base, &payload, &life, &slack, &want); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		n++
		now := int64(1_800_000_000)
		if got := ScaledStampBits(int(base), int(payload), now+life, now, slack); got != int(want) {
			t.Errorf("line %d %q: cost %d", i+1, line, got)
		}
		spec := 0.0
		if base > 0 {
			blocks := math.Max(1, math.Ceil(float64(payload)/65536))
			days := math.Max(1, math.Ceil(float64(life-slack)/86400))
			spec = math.Min(32, float64(base)+math.Ceil(math.Log2(blocks*days)))
		}
		if spec != float64(want) {
			t.Errorf("line %d %q: the spec's formula gives %v", i+1, line, spec)
		}
	}
	if n < 10 {
		t.Fatalf("%d vectors, want at least 10", n)
	}
}

// A client that computes the cost with its clock pays at least what the relay asks, for any
// payload and lifetime, as long as its clock is at most StampSlack ahead of the relay's.
func TestScaledStampClientCoversRelay(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		base := 1 + rng.IntN(24)
		payload := rng.IntN(4 << 20)
		now := int64(1_800_000_000)
		expiry := now + rng.Int64N(40*StampDay)
		relayNow := now - StampSlack + rng.Int64N(2*StampSlack) // the client up to 10 min ahead, or behind
		if c, r := ScaledStampBits(base, payload, expiry, now, 0), ScaledStampBits(base, payload, expiry, relayNow, StampSlack); c < r {
			t.Fatalf("base %d, %d B, expiry in %d s: the client pays %d bits, the relay %d s later asks %d", base, payload, expiry-now, c, relayNow-now, r)
		}
	}
}

// A relay that sets FeatureStampScaled asks a week-long blob for more than its base cost: a
// stamp of the base is refused with the reason, one of StampCostFor's cost passes; a relay
// without the feature bit asks its stamp_bits.
func TestScaledStampCheck(t *testing.T) {
	now := time.Now()
	e := Envelope{Expiry: now.Add(7 * 24 * time.Hour).Unix(), Payload: make([]byte, 100<<10)}
	env, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := Hello{StampBits: 6, Features: FeatureStampScaled}
	want, err := StampCostFor(h, env, now)
	if err != nil || want != 6+4 { // 2 blocks x 7 days: 14, 4 bits more
		t.Fatalf("StampCostFor %d %v, want 10", want, err)
	}
	if c, _ := StampCostFor(Hello{StampBits: 6}, env, now); c != 6 {
		t.Fatalf("without the feature bit: %d, want 6", c)
	}
	if c, _ := StampCostFor(Hello{Features: FeatureStampScaled}, env, now); c != 0 {
		t.Fatalf("stamp_bits 0: %d, want 0", c)
	}
	low, err := StampEnvelope(context.Background(), env, 6)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := StampCost(low); c < want {
		err := CheckScaledStamp(low, 6, now)
		if !errors.Is(err, ErrStampRequired) || !strings.Contains(err.Error(), "more for 100 KiB living 7 days") {
			t.Fatalf("a base-cost stamp: %v", err)
		}
	}
	ok, err := StampEnvelope(context.Background(), env, want)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckScaledStamp(ok, 6, now); err != nil {
		t.Fatal(err)
	}
	if err := CheckScaledStamp(env, 0, now); err != nil {
		t.Fatalf("base 0 asked for a stamp: %v", err)
	}
}
