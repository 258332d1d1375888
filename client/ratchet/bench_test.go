package ratchet

import (
	"crypto/rand"
	"testing"
	"time"
)

// BenchmarkSealOpen: one message sealed and opened within a chain (a symmetric step).
func BenchmarkSealOpen(b *testing.B) {
	x, y := newPair(b, rand.Reader)
	x.SetRand(rand.Reader)
	y.SetRand(rand.Reader)
	m := text("a short text of about forty characters.", t0)
	var size int
	for b.Loop() {
		p, err := x.Seal(m)
		if err != nil {
			b.Fatal(err)
		}
		size = len(p)
		if _, err := y.Open(p, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "payload-B")
	b.ReportMetric(float64(47+size), "envelope-B")
}

// BenchmarkRoundTrip: one message each way, so every Open is a DH ratchet step, with the KEM
// ratchet's chunks, encapsulations and decapsulations as they fall.
func BenchmarkRoundTrip(b *testing.B) {
	x, y := newPair(b, rand.Reader)
	x.SetRand(rand.Reader)
	y.SetRand(rand.Reader)
	m := text("a short text of about forty characters.", t0)
	now := t0
	for b.Loop() {
		now = now.Add(time.Second)
		for _, d := range [][2]*Session{{x, y}, {y, x}} {
			p, err := d[0].Seal(m)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d[1].Open(p, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(x.KEMEpoch())/float64(b.N), "kem-epochs/op")
}

// BenchmarkMarshal: the state written after every message.
func BenchmarkMarshal(b *testing.B) {
	x, _ := newPair(b, rand.Reader)
	var n int
	for b.Loop() {
		n = len(x.Marshal())
	}
	b.ReportMetric(float64(n), "state-B")
}
