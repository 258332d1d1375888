package mceliece

import "sync"

// Additive FFT (Gao–Mateer) over GF(2^m), used by the decoder to evaluate a polynomial
// at every field element and, transposed, to compute the Goppa syndrome as power sums.
//
// Points are ordered so that array position P (lane P%64 of vec P/64) holds the value at
// the field element bitrev(P). That is the order in which the Beneš network of the
// secret key takes its input: applying the network to such an array gives the values at
// the support L_0, L_1, ... in position order.
//
// Derivation, with the basis β_0..β_{d-1} of the points (at depth 0, β_b = z^b): put
// f~(x) = f(β_0 x) and expand f~(x) = f0(x^2+x) + x f1(x^2+x). The points β_0(a+b), with
// b in {0,1} and a in the span of γ_i = β_i/β_0 (i >= 1), give
//
//	f(β_0 a)     = f0(a^2+a) + a f1(a^2+a)
//	f(β_0 (a+1)) = f(β_0 a) + f1(a^2+a)
//
// and a^2+a runs over the span of D_i = γ_i^2+γ_i, the basis one level down. The b = 0
// values fill the first half of a block and the b = 1 values the second, so the bit of
// β_0 is the top bit of the position: that is where bitrev comes from. All the constants
// (β_0 per depth, the a values per position) are public and depend only on m.

type fftTables struct {
	beta0 []gf   // β_0 at each depth
	twist [][]gf // β_0^i, i < 256, at each depth
	// twist4[j][g][k] packs β_0^(4g+l)·z^k for l = 0..3 in 16-bit lanes (see twistAll);
	// twist2[j][k] packs β_0^l·z^k for l = 0, 1, 0, 1 (blocks of two coefficients).
	twist4 [][64][13]uint64
	twist2 [][13]uint64
	a      [][]vec // a values per depth, by position in the child block (bitsliced)
	a32    []vec   // depths whose child blocks have 32 points: lanes 0..31 hold a
	powT   []vec   // α^t at every point, when t is a power of two (monic term)
}

var fftCache sync.Map // *params -> *fftTables

func (p *params) tables() *fftTables {
	if v, ok := fftCache.Load(p); ok {
		return v.(*fftTables)
	}
	tb := p.buildTables()
	v, _ := fftCache.LoadOrStore(p, tb)
	return v.(*fftTables)
}

func (p *params) buildTables() *fftTables {
	d := p.m
	const maxDepth = 8
	tb := &fftTables{a: make([][]vec, maxDepth), a32: make([]vec, maxDepth)}
	basis := make([]gf, d)
	for b := range basis {
		basis[b] = 1 << b
	}
	for j := 0; j < maxDepth; j++ {
		ln := d - j
		b0 := basis[0]
		inv0 := p.inv(b0)
		gamma := make([]gf, ln)
		next := make([]gf, ln-1)
		for i := 1; i < ln; i++ {
			gamma[i] = p.mul(basis[i], inv0)
			next[i-1] = p.mul(gamma[i], gamma[i]) ^ gamma[i]
		}
		tb.beta0 = append(tb.beta0, b0)
		pw := make([]gf, 256)
		pw[0] = 1
		for i := 1; i < len(pw); i++ {
			pw[i] = p.mul(pw[i-1], b0)
		}
		tb.twist = append(tb.twist, pw)
		var t4 [64][13]uint64
		var t2 [13]uint64
		for k := 0; k < d; k++ {
			zk := gf(1) << k
			for i := 0; i < 256; i++ {
				t4[i/4][k] |= uint64(p.mul(pw[i], zk)) << (16 * uint(i%4))
			}
			for l := 0; l < 4; l++ {
				t2[k] |= uint64(p.mul(pw[l%2], zk)) << (16 * uint(l))
			}
		}
		tb.twist4 = append(tb.twist4, t4)
		tb.twist2 = append(tb.twist2, t2)
		half := 1 << (ln - 1)
		vals := make([]gf, half)
		for pos := 0; pos < half; pos++ {
			u := bitrevN(pos, ln-1)
			var a gf
			for i := 1; i < ln; i++ {
				a ^= gamma[i] & -gf(u>>(i-1)&1)
			}
			vals[pos] = a
		}
		if half >= 64 {
			vs := make([]vec, half/64)
			for pos, a := range vals {
				laneSet(&vs[pos/64], pos%64, a, d)
			}
			tb.a[j] = vs
		} else {
			for pos, a := range vals {
				laneSet(&tb.a32[j], pos, a, d)
			}
		}
		basis = next
	}
	if p.t&(p.t-1) == 0 {
		q := 1 << d
		tb.powT = make([]vec, q/64)
		for pos := 0; pos < q; pos++ {
			x := gf(bitrevN(pos, d))
			y := gf(1)
			for i := 0; i < p.t; i++ {
				y = p.mul(y, x)
			}
			laneSet(&tb.powT[pos/64], pos%64, y, d)
		}
	}
	return tb
}

// bitrevN reverses the low n bits of x.
func bitrevN(x, n int) int {
	r := 0
	for i := 0; i < n; i++ {
		r |= (x >> i & 1) << (n - 1 - i)
	}
	return r
}

// taylor rewrites f (length a power of two) in place so that
// f(x) = Σ_i (f[2i] + f[2i+1] x) (x^2+x)^i.
func taylor(f []gf) {
	n := len(f)
	for s := n; s >= 4; s >>= 1 {
		h := s / 4
		for base := 0; base < n; base += s {
			b := f[base : base+s]
			for i := 0; i < h; i++ {
				b[h+i] ^= b[2*h+i] ^ b[3*h+i]
				b[2*h+i] ^= b[3*h+i]
			}
		}
	}
}

// taylorT is the transpose of taylor.
func taylorT(f []gf) {
	n := len(f)
	for s := 4; s <= n; s <<= 1 {
		h := s / 4
		for base := 0; base < n; base += s {
			b := f[base : base+s]
			for i := 0; i < h; i++ {
				b[3*h+i] ^= b[h+i] ^ b[2*h+i]
				b[2*h+i] ^= b[h+i]
			}
		}
	}
}

// twistAll multiplies every coefficient of c, an array of blocks of sz coefficients, by
// β_0^i (i its index in its block) for depth j. Multiplication by a public constant is
// linear in the bits of the secret operand, so four coefficients share each step: the
// bits x_k of four 16-bit lanes become lane masks (v<<16)-v, which select the tabulated
// products β_0^i·z^k. No table is indexed by secret data.
func (p *params) twistAll(c []gf, j, sz int) {
	tb := p.tables()
	t4, t2 := &tb.twist4[j], &tb.twist2[j]
	m := uint(p.m)
	for g := 0; 4*g < len(c); g++ {
		tk := t2
		if sz >= 4 {
			tk = &t4[(4*g%sz)/4]
		}
		f := c[4*g : 4*g+4 : 4*g+4]
		x := uint64(f[0]) | uint64(f[1])<<16 | uint64(f[2])<<32 | uint64(f[3])<<48
		var acc uint64
		for k := uint(0); k < m; k++ {
			v := x >> k & 0x0001000100010001
			acc ^= (v<<16 - v) & tk[k]
		}
		f[0], f[1], f[2], f[3] = gf(acc), gf(acc>>16), gf(acc>>32), gf(acc>>48)
	}
}

// fft evaluates the polynomial f (length 2^K, K <= m-6) at every field element; out has
// 2^m/64 vecs in the order described above.
func (p *params) fft(out []vec, f []gf, K int) {
	tb := p.tables()
	d := p.m
	c := make([]gf, len(f))
	copy(c, f)
	tmp := make([]gf, len(f))
	for j := 0; j < K; j++ {
		sz := 1 << (K - j)
		if j > 0 { // β_0 = 1 at depth 0
			p.twistAll(c, j, sz)
		}
		for base := 0; base < len(c); base += sz {
			b := c[base : base+sz]
			taylor(b)
			for i := 0; i < sz/2; i++ {
				tmp[i] = b[2*i]
				tmp[sz/2+i] = b[2*i+1]
			}
			copy(b, tmp[:sz])
		}
	}
	per := 1 << (d - K) / 64 // vecs per depth-K block
	for s, cs := range c {
		v := broadcast(cs, d)
		for i := 0; i < per; i++ {
			out[s*per+i] = v
		}
	}
	var t vec
	for j := K - 1; j >= 0; j-- {
		nv := (1 << (d - j)) / 64
		half := nv / 2
		aj := tb.a[j]
		for base := 0; base < len(out); base += nv {
			for v := 0; v < half; v++ {
				lo, hi := &out[base+v], &out[base+half+v]
				p.vecMul(&t, hi, &aj[v])
				for k := 0; k < d; k++ {
					lo[k] ^= t[k]
					hi[k] ^= lo[k]
				}
			}
		}
	}
}

// fftT is the transpose of fft: given values w at every field element (destroyed), it
// returns the 2^K power sums Σ_α w(α) α^i, i < 2^K (K <= m-5).
func (p *params) fftT(in []vec, K int) []gf {
	tb := p.tables()
	d := p.m
	var t vec
	for j := 0; j < K; j++ {
		blk := 1 << (d - j) // points per block
		if blk >= 128 {
			nv := blk / 64
			half := nv / 2
			aj := tb.a[j]
			for base := 0; base < len(in); base += nv {
				for v := 0; v < half; v++ {
					lo, hi := &in[base+v], &in[base+half+v]
					for k := 0; k < d; k++ {
						lo[k] ^= hi[k]
					}
					p.vecMul(&t, lo, &aj[v])
					for k := 0; k < d; k++ {
						hi[k] ^= t[k]
					}
				}
			}
			continue
		}
		// blk == 64: both halves live in one word; two words share one vecMul.
		var lo, a2 vec
		for k := 0; k < d; k++ {
			a2[k] = tb.a32[j][k]&0xFFFFFFFF | tb.a32[j][k]<<32
		}
		for i := 0; i+1 < len(in); i += 2 {
			x, y := &in[i], &in[i+1]
			for k := 0; k < d; k++ {
				lx := (x[k] ^ x[k]>>32) & 0xFFFFFFFF
				ly := (y[k] ^ y[k]>>32) & 0xFFFFFFFF
				lo[k] = lx | ly<<32
			}
			p.vecMul(&t, &lo, &a2)
			for k := 0; k < d; k++ {
				x[k] = lo[k]&0xFFFFFFFF | (x[k]^t[k]<<32)&^0xFFFFFFFF
				y[k] = lo[k]>>32 | (y[k]^t[k])&^0xFFFFFFFF
			}
		}
	}
	n := 1 << K
	c := make([]gf, n)
	lanes := 1 << (d - K)
	if lanes == 32 {
		// Fold each word so that bits 0 and 32 hold the parities of its two halves.
		for i := range in {
			var lo, hi gf
			for k := 0; k < d; k++ {
				x := in[i][k]
				x ^= x >> 16
				x ^= x >> 8
				x ^= x >> 4
				x ^= x >> 2
				x ^= x >> 1
				lo |= gf(x&1) << k
				hi |= gf(x>>32&1) << k
			}
			c[2*i], c[2*i+1] = lo, hi
		}
	} else {
		per := lanes / 64
		for s := 0; s < n; s++ {
			var acc gf
			for k := 0; k < d; k++ {
				var par uint64
				for i := 0; i < per; i++ {
					par ^= in[s*per+i][k]
				}
				acc |= gf(popParity(par)) << k
			}
			c[s] = acc
		}
	}
	tmp := make([]gf, n)
	for j := K - 1; j >= 0; j-- {
		sz := 1 << (K - j)
		for base := 0; base < n; base += sz {
			b := c[base : base+sz]
			for i := 0; i < sz/2; i++ {
				tmp[2*i] = b[i]
				tmp[2*i+1] = b[sz/2+i]
			}
			copy(b, tmp[:sz])
			taylorT(b)
		}
		if j > 0 {
			p.twistAll(c, j, sz)
		}
	}
	return c
}

// popParity returns the parity of the number of set bits of x.
func popParity(x uint64) uint64 {
	x ^= x >> 32
	x ^= x >> 16
	x ^= x >> 8
	x ^= x >> 4
	x ^= x >> 2
	x ^= x >> 1
	return x & 1
}
