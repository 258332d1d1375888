package mceliece

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestDecodeFastMatchesScalar compares the FFT decoder with the scalar one on valid
// ciphertexts, on ciphertexts with a few flipped bits and on random ones.
func TestDecodeFastMatchesScalar(t *testing.T) {
	names := []string{"mceliece348864", "mceliece460896f", "mceliece6960119f"}
	if testing.Short() {
		names = names[:1]
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s := ByName(name).(*Scheme)
			p := s.p
			seed := make([]byte, 32)
			seed[0] = byte(len(name))
			pk, sk := s.DeriveKeyPair(seed)
			skb := sk.(*PrivateKey).raw
			xk := sk.(*PrivateKey).expanded()
			rng := rand.New(rand.NewPCG(3, 4))
			for trial := 0; trial < 6; trial++ {
				ct, _, err := s.Encapsulate(pk)
				if err != nil {
					t.Fatal(err)
				}
				switch trial % 3 {
				case 1:
					ct[rng.IntN(len(ct))] ^= 1 << rng.IntN(8)
				case 2:
					for i := range ct {
						ct[i] = byte(rng.Uint32())
					}
				}
				e1, ok1 := p.decode(skb, ct)
				e2, ok2 := p.decodeFast(ct, xk)
				if ok1 != ok2 || (ok1 != 0 && !bytes.Equal(e1, e2)) {
					t.Fatalf("trial %d: scalar ok=%x fast ok=%x, e equal %v", trial, ok1, ok2, bytes.Equal(e1, e2))
				}
				if trial%3 == 0 && ok1 == 0 {
					t.Fatalf("trial %d: valid ciphertext did not decode", trial)
				}
			}
		})
	}
}

func TestBerlekampMasseyVec(t *testing.T) {
	for _, p := range allParams {
		rng := rand.New(rand.NewPCG(5, uint64(p.t)))
		for trial := 0; trial < 3; trial++ {
			s := make([]gf, 2*p.t)
			for i := range s {
				s[i] = gf(rng.Uint32()) & p.gfMask()
			}
			if trial == 1 {
				clear(s[p.t:])
			}
			a, b := p.berlekampMassey(s), p.berlekampMasseyVec(s)
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%s trial %d coefficient %d: %x vs %x", p.name, trial, i, a[i], b[i])
				}
			}
		}
	}
}
