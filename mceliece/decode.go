package mceliece

import "math/bits"

// The fast decoder. It works on all 2^m field elements at once in the FFT order (see
// fft.go) and moves bit vectors between that order and support positions with the Beneš
// network of the secret key:
//
//  1. g at every element (FFT), weights 1/g^2 (bitsliced inversion);
//  2. C = (c, 0, ..., 0) moved to FFT order, syndrome Σ C_α α^j / g(α)^2, j < 2t, by the
//     transposed FFT;
//  3. Berlekamp–Massey gives the error locator σ, monic of degree t;
//  4. σ at every element (FFT); its zeros, moved to positions, are e;
//  5. e is accepted when it has weight t and the syndrome of C + e is zero.
//
// Every step runs the same instruction sequence and touches the same addresses whatever
// the key and ciphertext; the only secret-dependent values are the data.

// fftDegrees returns K (2^K coefficients for a degree-t monic polynomial, with the x^t term
// kept apart when t is a power of two) and K2 (2^K2 >= 2t syndromes).
func (p *params) fftDegrees() (K int, monicApart bool, K2 int) {
	for 1<<K < p.t {
		K++
	}
	monicApart = 1<<K == p.t
	for 1<<K2 < 2*p.t {
		K2++
	}
	return
}

// evalAll returns f at every field element in FFT order; f has t+1 coefficients and
// f[t] must be 1 when t is a power of two.
func (p *params) evalAll(f []gf) []vec {
	K, apart, _ := p.fftDegrees()
	c := make([]gf, 1<<K)
	if apart {
		copy(c, f[:p.t])
	} else {
		copy(c, f)
	}
	out := make([]vec, (1<<p.m)/64)
	p.fft(out, c, K)
	if apart {
		pt := p.tables().powT
		for i := range out {
			for k := 0; k < p.m; k++ {
				out[i][k] ^= pt[i][k]
			}
		}
	}
	return out
}

// expandedKey is what decapsulation derives from a secret key before looking at any
// ciphertext: the Beneš network as word masks and the weights 1/g(α)^2 at every field
// element in FFT order. PrivateKey computes it once and keeps it.
type expandedKey struct {
	net *benesNet
	wts []vec
}

// expandKey computes the expandedKey of sk.
func (p *params) expandKey(sk []byte) *expandedKey {
	t := p.t
	mask := p.gfMask()
	g := make([]gf, t+1)
	for i := 0; i < t; i++ {
		g[i] = (gf(sk[skGOff+2*i]) | gf(sk[skGOff+2*i+1])<<8) & mask
	}
	g[t] = 1
	wts := p.evalAll(g)
	for i := range wts {
		p.vecSq(&wts[i], &wts[i])
	}
	p.vecInvAll(wts)
	cb := sk[skGOff+p.irrBytes : skGOff+p.irrBytes+p.condBytes]
	return &expandedKey{net: newBenesNet(cb, p.m), wts: wts}
}

// decodeFast is decode (same inputs, same outputs) with the FFT-based decoder.
func (p *params) decodeFast(ct []byte, xk *expandedKey) (e []byte, okMask uint16) {
	n, t, m := p.n, p.t, p.m
	q := 1 << m
	nv := q / 64
	bn, wts := xk.net, xk.wts
	_, _, K2 := p.fftDegrees()

	// r in position order: the ciphertext bits at positions < mt.
	rpos := make([]uint64, nv)
	for i := 0; i < p.ctBytes; i++ {
		rpos[i/8] |= uint64(ct[i]) << uint(8*(i%8))
	}
	if r := p.mt % 64; r != 0 {
		rpos[p.mt/64] &= 1<<uint(r) - 1
	}
	syndromeOf := func(pos []uint64) []gf {
		pre := make([]uint64, nv)
		copy(pre, pos)
		bn.reverse(pre)
		in := make([]vec, nv)
		for i := range in {
			for k := 0; k < m; k++ {
				in[i][k] = wts[i][k] & pre[i]
			}
		}
		return p.fftT(in, K2)[:2*t]
	}
	synd := syndromeOf(rpos)
	loc := p.berlekampMasseyVec(synd)
	ev := p.evalAll(loc)
	epos := make([]uint64, nv)
	for i := range ev {
		var or uint64
		for k := 0; k < m; k++ {
			or |= ev[i][k]
		}
		epos[i] = ^or
	}
	bn.forward(epos)
	for i := n / 64; i < nv; i++ {
		if i == n/64 && n%64 != 0 {
			epos[i] &= 1<<uint(n%64) - 1
		} else {
			epos[i] = 0
		}
	}
	weight := 0
	for _, w := range epos {
		weight += bits.OnesCount64(w)
	}
	dpos := make([]uint64, nv)
	for i := range dpos {
		dpos[i] = rpos[i] ^ epos[i]
	}
	check := syndromeOf(dpos)
	var diff gf
	for _, v := range check {
		diff |= v
	}
	diff |= gf(weight ^ t)
	okMask = isZeroMask(diff)
	e = wordsToBytes(epos, n/8)
	return e, okMask
}
