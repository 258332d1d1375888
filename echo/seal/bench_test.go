package seal

import (
	"testing"
	"time"
)

// Sealing and opening cost, for the shared identities' KEM (the default set, or the smallest
// under -short/-race). The KEM dominates short texts; the AEAD and the signatures long chunks.
func benchSealOpen(b *testing.B, n int) {
	a, r, _ := ids(b)
	content := make([]byte, n)
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(n))
		for b.Loop() {
			if _, _, err := Seal(a, r.Bundle(), TypeText, content, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	p, _, err := Seal(a, r.Bundle(), TypeText, content, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(n))
		for b.Loop() {
			if _, err := Open(r, p, knownOf(a.Bundle())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkText(b *testing.B)  { benchSealOpen(b, 100) }
func BenchmarkChunk(b *testing.B) { benchSealOpen(b, 2_000_000) }

func BenchmarkParseIdentity(b *testing.B) {
	a, _, _ := ids(b)
	f, err := a.Marshal(nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParseIdentity(f, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateIdentity(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateIdentity(testScheme()); err != nil {
			b.Fatal(err)
		}
	}
}
