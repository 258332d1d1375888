package mceliece

import (
	"math/rand/v2"
	"testing"
)

func TestFFTMatchesHorner(t *testing.T) {
	for _, p := range []*params{allParams[0], allParams[2]} {
		rng := rand.New(rand.NewPCG(1, uint64(p.m)))
		for _, K := range []int{1, 3, p.m - 6} {
			f := make([]gf, 1<<K)
			for i := range f {
				f[i] = gf(rng.Uint32()) & p.gfMask()
			}
			out := make([]vec, (1<<p.m)/64)
			p.fft(out, f, K)
			for pos := 0; pos < 1<<p.m; pos++ {
				x := gf(bitrevN(pos, p.m))
				want := p.evalPoly(f, x)
				if got := laneGet(&out[pos/64], pos%64, p.m); got != want {
					t.Fatalf("m=%d K=%d pos %d: got %x want %x", p.m, K, pos, got, want)
				}
			}
		}
	}
}

func TestFFTTransposed(t *testing.T) {
	for _, p := range []*params{allParams[0], allParams[2]} {
		rng := rand.New(rand.NewPCG(2, uint64(p.m)))
		for _, K := range []int{2, p.m - 6, p.m - 5} {
			q := 1 << p.m
			w := make([]gf, q)
			in := make([]vec, q/64)
			for pos := range w {
				w[pos] = gf(rng.Uint32()) & p.gfMask()
				laneSet(&in[pos/64], pos%64, w[pos], p.m)
			}
			got := p.fftT(in, K)
			want := make([]gf, 1<<K)
			for pos := range w {
				x := gf(bitrevN(pos, p.m))
				c := w[pos]
				for j := range want {
					want[j] ^= c
					c = p.mul(c, x)
				}
			}
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("m=%d K=%d j=%d: got %x want %x", p.m, K, j, got[j], want[j])
				}
			}
		}
	}
}

func TestVecInv(t *testing.T) {
	for _, p := range []*params{allParams[0], allParams[2]} {
		var a, inv vec
		for l := 0; l < 64; l++ {
			laneSet(&a, l, gf(l*97+5)&p.gfMask(), p.m)
		}
		p.vecInv(&inv, &a)
		for l := 0; l < 64; l++ {
			x := laneGet(&a, l, p.m)
			if got, want := laneGet(&inv, l, p.m), p.inv(x); got != want {
				t.Fatalf("m=%d lane %d: inv(%x) = %x, want %x", p.m, l, x, got, want)
			}
		}
	}
}

func TestVecInvAll(t *testing.T) {
	for _, p := range []*params{allParams[0], allParams[2]} {
		a := make([]vec, 5)
		for i := range a {
			for l := 0; l < 64; l++ {
				x := gf(i*64+l) * 37 & p.gfMask()
				if l%9 == 0 {
					x = 0
				}
				laneSet(&a[i], l, x, p.m)
			}
		}
		want := make([]vec, len(a))
		for i := range a {
			p.vecInv(&want[i], &a[i])
		}
		p.vecInvAll(a)
		for i := range a {
			if a[i] != want[i] {
				t.Fatalf("m=%d vec %d differs", p.m, i)
			}
		}
	}
}
