package mceliece

import "math/bits"

// Bitsliced Berlekamp–Massey. The polynomials C (connection) and B (previous connection,
// shifted) are held with coefficient i in lane i, so one vecMul does 64 coefficient
// products; the syndrome window S_N, S_{N-1}, ... sits in lane order beside them. When
// t is a multiple of 64 the coefficient of index t is kept as a scalar beside the full
// words instead of occupying a word of its own. The sequence of operations is fixed by t;
// the discrepancy test and the length update are masks, exactly as in the scalar
// berlekampMassey, which it reproduces coefficient for coefficient.

// berlekampMasseyVec returns the same locator as berlekampMassey.
func (p *params) berlekampMasseyVec(s []gf) []gf {
	t, m := p.t, p.m
	top := t%64 == 0 // lane t kept as the scalars cTop, bTop, sTop
	lanes := t + 1
	if top {
		lanes = t
	}
	nw := (lanes + 63) / 64
	C := make([]vec, nw)
	B := make([]vec, nw)
	T := make([]vec, nw)
	S := make([]vec, nw)
	valid := make([]uint64, nw) // lanes that hold coefficients
	for i := 0; i < lanes; i++ {
		valid[i/64] |= 1 << uint(i%64)
	}
	var cTop, bTop, sTop gf
	C[0][0] = 1 // C = 1 (plane 0, lane 0)
	B[0][0] = 2 // B = y (lane 1)
	b := gf(1)
	var L uint16
	var prod, acc, fb vec
	for N := 0; N < 2*t; N++ {
		// S <- S shifted up one lane, lane 0 = s[N]; what leaves the last lane is S_{N-t}.
		if top {
			sTop = 0
			for k := 0; k < m; k++ {
				sTop |= gf(S[nw-1][k]>>63) << uint(k)
			}
		}
		for k := 0; k < m; k++ {
			for w := nw - 1; w > 0; w-- {
				S[w][k] = S[w][k]<<1 | S[w-1][k]>>63
			}
			S[0][k] = S[0][k]<<1 | uint64(s[N]>>uint(k)&1)
		}
		// d = Σ C_i S_{N-i}; lanes past min(N, t) of S are zero
		acc = vec{}
		for w := 0; w < nw && 64*w <= N; w++ {
			p.vecMul(&prod, &C[w], &S[w])
			for k := 0; k < m; k++ {
				acc[k] ^= prod[k]
			}
		}
		var d gf
		for k := 0; k < m; k++ {
			d |= gf(bits.OnesCount64(acc[k])&1) << uint(k)
		}
		if top {
			d ^= p.mul(cTop, sTop)
		}
		mne := ^isZeroMask(d)
		mle := uint16(int16(uint16(N)-2*L)>>15) ^ 0xFFFF // N >= 2L
		mle &= mne
		copy(T, C)
		tTop := cTop
		f := p.mul(p.inv(b), d) & mne
		fv := broadcast(f, m)
		for w := 0; w < nw; w++ {
			p.vecMul(&fb, &fv, &B[w])
			for k := 0; k < m; k++ {
				C[w][k] ^= fb[k]
			}
		}
		cTop ^= p.mul(f, bTop)
		L = L&^mle | (uint16(N)+1-L)&mle
		wm := -uint64(mle & 1)
		for w := 0; w < nw; w++ {
			for k := 0; k < m; k++ {
				B[w][k] = B[w][k]&^wm | T[w][k]&wm
			}
		}
		bTop = bTop&^mle | tTop&mle
		b = b&^mle | d&mle
		// B <- y * B, dropping coefficient t+1
		if top {
			bTop = 0
			for k := 0; k < m; k++ {
				bTop |= gf(B[nw-1][k]>>63) << uint(k)
			}
		}
		for k := 0; k < m; k++ {
			for w := nw - 1; w > 0; w-- {
				B[w][k] = (B[w][k]<<1 | B[w-1][k]>>63) & valid[w]
			}
			B[0][k] = B[0][k] << 1 & valid[0]
		}
	}
	out := make([]gf, t+1)
	for i := 0; i < lanes; i++ {
		out[t-i] = laneGet(&C[i/64], i%64, m)
	}
	if top {
		out[0] = cTop
	}
	return out
}
