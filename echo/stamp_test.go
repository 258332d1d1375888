package echo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
