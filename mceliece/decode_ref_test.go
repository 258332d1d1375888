package mceliece

// The scalar textbook decoder, kept as the executable specification that the FFT
// decoder (decode.go) and the bitsliced Berlekamp–Massey (bm.go) are tested against. It
// follows the reference position by position: support from the control bits, syndrome
// Σ r_i L_i^j / g(L_i)^2, Berlekamp–Massey, roots by evaluation at every L_i, and the
// weight-and-syndrome check.

// decode recovers e from the syndrome ct with the scalar textbook decoder (position by
// position, as the reference does). Decapsulation uses decodeFast; this one stays as the
// executable specification that tests compare decodeFast against. It returns e as n/8 bytes and a mask that is
// all ones when e has weight t and syndrome ct (decoding succeeded) and zero otherwise.
func (p *params) decode(sk, ct []byte) (e []byte, okMask uint16) {
	n, t := p.n, p.t
	mask := p.gfMask()
	g := make([]gf, t+1)
	for i := 0; i < t; i++ {
		g[i] = gf(sk[skGOff+2*i]) | gf(sk[skGOff+2*i+1])<<8
		g[i] &= mask
	}
	g[t] = 1
	L := p.support(sk[skGOff+p.irrBytes : skGOff+p.irrBytes+p.condBytes])

	// w[i] = 1/g(L_i)^2, the column weights of the squared Goppa code.
	w := make([]gf, n)
	for i := 0; i < n; i++ {
		v := p.evalPoly(g, L[i])
		v = p.mul(v, v)
		w[i] = p.inv(v)
	}
	// r = (C, 0, ..., 0); positions past mt never carry ciphertext bits.
	r := make([]gf, n)
	for i := 0; i < p.mt; i++ {
		r[i] = -gf(ct[i>>3] >> uint(i&7) & 1)
	}
	synd := p.syndromeGoppa(r[:p.mt], w, L)
	loc := p.berlekampMassey(synd)

	eBits := make([]gf, n)
	var weight uint32
	for i := 0; i < n; i++ {
		z := isZeroMask(p.evalPoly(loc, L[i]))
		eBits[i] = z
		weight += uint32(z & 1)
	}
	// Syndrome of r + e must vanish.
	for i := 0; i < n; i++ {
		r[i] ^= eBits[i]
	}
	check := p.syndromeGoppa(r, w, L)
	var diff gf
	for _, v := range check {
		diff |= v
	}
	diff |= gf(weight ^ uint32(t))
	okMask = isZeroMask(diff)

	e = make([]byte, n/8)
	for i := 0; i < n; i++ {
		e[i>>3] |= byte(eBits[i]&1) << uint(i&7)
	}
	return e, okMask
}

// support recomputes L_0..L_{n-1} from the control bits: bitrev of the field ordering.
func (p *params) support(cb []byte) []gf {
	q := 1 << p.m
	x := make([]gf, q)
	for i := range x {
		x[i] = p.bitrev(gf(i))
	}
	applyLayers(x, cb, p.m)
	return x[:p.n]
}

// evalPoly evaluates the polynomial with coefficients f (lowest first) at a.
func (p *params) evalPoly(f []gf, a gf) gf {
	v := f[len(f)-1]
	for i := len(f) - 2; i >= 0; i-- {
		v = p.mul(v, a) ^ f[i]
	}
	return v
}

// syndromeGoppa returns the 2t values Σ_i r_i w_i L_i^j, j < 2t, for r_i in {0, 0xFFFF}
// given over a prefix of the support.
func (p *params) syndromeGoppa(r, w, L []gf) []gf {
	out := make([]gf, 2*p.t)
	for i := range r {
		c := w[i] & r[i]
		for j := range out {
			out[j] ^= c
			c = p.mul(c, L[i])
		}
	}
	return out
}

// berlekampMassey returns the error-locator polynomial (t+1 coefficients, reversed so its
// roots are the error positions' support elements) for the 2t syndromes s. All updates
// are masked; the loop bounds depend only on t.
func (p *params) berlekampMassey(s []gf) []gf {
	t := p.t
	C := make([]gf, t+1)
	B := make([]gf, t+1)
	T := make([]gf, t+1)
	C[0], B[1] = 1, 1
	b := gf(1)
	var L uint16
	for N := 0; N < 2*t; N++ {
		var d gf
		lim := N
		if t < lim {
			lim = t
		}
		for i := 0; i <= lim; i++ {
			d ^= p.mul(C[i], s[N-i])
		}
		mne := ^isZeroMask(d)
		mle := uint16(int16(uint16(N)-2*L)>>15) ^ 0xFFFF // N >= 2L
		mle &= mne
		copy(T, C)
		f := p.mul(p.inv(b), d)
		for i := 0; i <= t; i++ {
			C[i] ^= p.mul(f, B[i]) & mne
		}
		L = L&^mle | (uint16(N)+1-L)&mle
		for i := 0; i <= t; i++ {
			B[i] = B[i]&^mle | T[i]&mle
		}
		b = b&^mle | d&mle
		copy(B[1:], B[:t])
		B[0] = 0
	}
	out := make([]gf, t+1)
	for i := 0; i <= t; i++ {
		out[i] = C[t-i]
	}
	return out
}
