package mceliece

import "testing"

func BenchmarkMicro(b *testing.B) {
	p := allParams[5]
	s := make([]gf, 2*p.t)
	for i := range s {
		s[i] = gf(i*7919) & p.gfMask()
	}
	b.Run("bm", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			p.berlekampMassey(s)
		}
		c.report(b)
	})
	b.Run("bmvec", func(b *testing.B) {
		c := startCPU()
		for b.Loop() {
			p.berlekampMasseyVec(s)
		}
		c.report(b)
	})
	b.Run("mul", func(b *testing.B) {
		x := gf(1234)
		c := startCPU()
		for b.Loop() {
			x = p.mul(x, 0x1abc) ^ 1
		}
		c.report(b)
	})
	b.Run("fft", func(b *testing.B) {
		out := make([]vec, 128)
		f := s[:128]
		c := startCPU()
		for b.Loop() {
			p.fft(out, f, 7)
		}
		c.report(b)
	})
	b.Run("fftT", func(b *testing.B) {
		in := make([]vec, 128)
		c := startCPU()
		for b.Loop() {
			p.fftT(in, 8)
		}
		c.report(b)
	})
	b.Run("vecInv", func(b *testing.B) {
		var a vec
		c := startCPU()
		for b.Loop() {
			p.vecInv(&a, &a)
		}
		c.report(b)
	})
}
