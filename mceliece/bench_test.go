package mceliece

import (
	"sync"
	"testing"

	"github.com/cloudflare/circl/kem"
)

// cpuTimer reports the process CPU time per operation as the "cpu-ns/op" metric: on a
// loaded machine wall time overstates the cost of single-threaded code.
type cpuTimer struct{ start int64 }

func startCPU() cpuTimer { return cpuTimer{processCPUNanos()} }

func (c cpuTimer) report(b *testing.B) {
	if c.start == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(processCPUNanos()-c.start)/float64(b.N), "cpu-ns/op")
}

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
			c := startCPU()
			for b.Loop() {
				if _, _, err := s.GenerateKeyPair(); err != nil {
					b.Fatal(err)
				}
			}
			c.report(b)
		})
	}
}

func BenchmarkEncapsulate(b *testing.B) {
	for _, s := range All() {
		b.Run(s.Name(), func(b *testing.B) {
			pk, _ := benchKeyPair(b, s)
			c := startCPU()
			for b.Loop() {
				if _, _, err := s.Encapsulate(pk); err != nil {
					b.Fatal(err)
				}
			}
			c.report(b)
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
			if _, err := s.Decapsulate(sk, ct); err != nil { // expand the key's network
				b.Fatal(err)
			}
			c := startCPU()
			for b.Loop() {
				if _, err := s.Decapsulate(sk, ct); err != nil {
					b.Fatal(err)
				}
			}
			c.report(b)
		})
	}
}

// BenchmarkExpandKey measures the one-time work a secret key does before its first
// decapsulation (Beneš masks and the weights 1/g(α)^2), which BenchmarkDecapsulate
// excludes.
func BenchmarkExpandKey(b *testing.B) {
	for _, s := range All() {
		b.Run(s.Name(), func(b *testing.B) {
			_, sk := benchKeyPair(b, s)
			raw := sk.(*PrivateKey).raw
			p := s.(*Scheme).p
			c := startCPU()
			for b.Loop() {
				p.expandKey(raw)
			}
			c.report(b)
		})
	}
}
