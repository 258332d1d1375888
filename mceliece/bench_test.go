package mceliece

import (
	"sync"
	"testing"

	"github.com/cloudflare/circl/kem"
)

var benchKeys sync.Map // name -> [2]any{kem.PublicKey, kem.PrivateKey}

func benchKeyPair(b *testing.B, s kem.Scheme) (kem.PublicKey, kem.PrivateKey) {
	if v, ok := benchKeys.Load(s.Name()); ok {
		kp := v.([2]any)
		return kp[0].(kem.PublicKey), kp[1].(kem.PrivateKey)
	}
	seed := make([]byte, s.SeedSize())
	pk, sk := s.DeriveKeyPair(seed)
	benchKeys.Store(s.Name(), [2]any{pk, sk})
	return pk, sk
}

func BenchmarkKeygen(b *testing.B) {
	for _, s := range All() {
		b.Run(s.Name(), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.GenerateKeyPair(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncapsulate(b *testing.B) {
	for _, s := range All() {
		b.Run(s.Name(), func(b *testing.B) {
			pk, _ := benchKeyPair(b, s)
			for b.Loop() {
				if _, _, err := s.Encapsulate(pk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	for _, s := range All() {
		b.Run(s.Name(), func(b *testing.B) {
			pk, sk := benchKeyPair(b, s)
			ct, _, err := s.Encapsulate(pk)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Decapsulate(sk, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
