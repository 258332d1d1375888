package mceliece

// Irreducible-polynomial generation (spec section 2.4.1): the Goppa polynomial g is the
// minimal polynomial over GF(2^m) of β = Σ β_i y^i in GF(2^m)[y]/F(y). Key generation
// fails (and draws fresh randomness) when that minimal polynomial has degree below t.

// polyMulModF returns a*b mod F(y); a and b have t coefficients.
func (p *params) polyMulModF(a, b []gf) []gf {
	t := p.t
	prod := make([]gf, 2*t-1)
	for i := 0; i < t; i++ {
		for j := 0; j < t; j++ {
			prod[i+j] ^= p.mul(a[i], b[j])
		}
	}
	for i := 2*t - 2; i >= t; i-- {
		c := prod[i]
		for _, term := range p.bigF {
			if term.coef == 1 {
				prod[i-t+term.exp] ^= c
			} else {
				prod[i-t+term.exp] ^= p.mul(c, term.coef)
			}
		}
	}
	return prod[:t]
}

// genPoly returns the t low coefficients of the monic minimal polynomial of β (the
// coefficient of y^t is 1), or ok == false when its degree is below t. The elimination
// uses masks, not branches, except for the public failure exit.
func (p *params) genPoly(beta []gf) (g []gf, ok bool) {
	t := p.t
	// Column c of the system is β^c; row r holds the coefficients of y^r.
	// Solve Σ_{c<t} g_c β^c = β^t, the augmented column is column t.
	rows := make([][]gf, t)
	for r := range rows {
		rows[r] = make([]gf, t+1)
	}
	pow := make([]gf, t)
	pow[0] = 1
	for c := 0; c <= t; c++ {
		for r := 0; r < t; r++ {
			rows[r][c] = pow[r]
		}
		if c < t {
			if c == 0 {
				copy(pow, beta)
			} else {
				pow = p.polyMulModF(pow, beta)
			}
		}
	}
	for j := 0; j < t; j++ {
		rj := rows[j]
		for k := j + 1; k < t; k++ {
			mask := isZeroMask(rj[j])
			rk := rows[k]
			for c := j; c <= t; c++ {
				rj[c] ^= rk[c] & mask
			}
		}
		if rj[j] == 0 { // singular: the minimal polynomial has degree < t (public)
			return nil, false
		}
		inv := p.inv(rj[j])
		for c := j; c <= t; c++ {
			rj[c] = p.mul(rj[c], inv)
		}
		for k := 0; k < t; k++ {
			if k == j {
				continue
			}
			rk := rows[k]
			f := rk[j]
			for c := j; c <= t; c++ {
				rk[c] ^= p.mul(rj[c], f)
			}
		}
	}
	g = make([]gf, t)
	for r := 0; r < t; r++ {
		g[r] = rows[r][t]
	}
	return g, true
}
