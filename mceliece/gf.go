package mceliece

// Scalar arithmetic in GF(2^m), m = 12 or 13. Elements are uint16 in the polynomial basis
// 1, z, ..., z^(m-1). Every routine here runs in time independent of its operands: no
// table look-ups, no branches on values, only shifts, ANDs and XORs with masks.

type gf = uint16

// mul returns a*b in GF(2^m).
func (p *params) mul(a, b gf) gf {
	if p.m == 12 {
		return mul12(a, b)
	}
	return mul13(a, b)
}

func mul12(a, b gf) gf {
	x, y := uint32(a), uint32(b)
	r := x & -(y & 1)
	r ^= (x << 1) & -(y >> 1 & 1)
	r ^= (x << 2) & -(y >> 2 & 1)
	r ^= (x << 3) & -(y >> 3 & 1)
	r ^= (x << 4) & -(y >> 4 & 1)
	r ^= (x << 5) & -(y >> 5 & 1)
	r ^= (x << 6) & -(y >> 6 & 1)
	r ^= (x << 7) & -(y >> 7 & 1)
	r ^= (x << 8) & -(y >> 8 & 1)
	r ^= (x << 9) & -(y >> 9 & 1)
	r ^= (x << 10) & -(y >> 10 & 1)
	r ^= (x << 11) & -(y >> 11 & 1)
	h := r >> 12
	r = r&0xFFF ^ h ^ h<<3
	h = r >> 12
	r = r&0xFFF ^ h ^ h<<3
	return gf(r)
}

func mul13(a, b gf) gf {
	x, y := uint32(a), uint32(b)
	r := x & -(y & 1)
	r ^= (x << 1) & -(y >> 1 & 1)
	r ^= (x << 2) & -(y >> 2 & 1)
	r ^= (x << 3) & -(y >> 3 & 1)
	r ^= (x << 4) & -(y >> 4 & 1)
	r ^= (x << 5) & -(y >> 5 & 1)
	r ^= (x << 6) & -(y >> 6 & 1)
	r ^= (x << 7) & -(y >> 7 & 1)
	r ^= (x << 8) & -(y >> 8 & 1)
	r ^= (x << 9) & -(y >> 9 & 1)
	r ^= (x << 10) & -(y >> 10 & 1)
	r ^= (x << 11) & -(y >> 11 & 1)
	r ^= (x << 12) & -(y >> 12 & 1)
	h := r >> 13
	r = r&0x1FFF ^ h ^ h<<1 ^ h<<3 ^ h<<4
	h = r >> 13
	r = r&0x1FFF ^ h ^ h<<1 ^ h<<3 ^ h<<4
	return gf(r)
}

// reduce folds a product of degree at most 2m-2 back below z^m.
func (p *params) reduce(r uint32) gf {
	if p.m == 12 { // z^12 = z^3 + 1
		h := r >> 12
		r = r&0xFFF ^ h ^ h<<3
		h = r >> 12
		r = r&0xFFF ^ h ^ h<<3
		return gf(r)
	}
	// z^13 = z^4 + z^3 + z + 1
	h := r >> 13
	r = r&0x1FFF ^ h ^ h<<1 ^ h<<3 ^ h<<4
	h = r >> 13
	r = r&0x1FFF ^ h ^ h<<1 ^ h<<3 ^ h<<4
	return gf(r)
}

// inv returns a^(2^m-2), the inverse of a for a != 0 and 0 for a == 0, with the addition
// chain x_{i+j} = x_i^(2^j) x_j for x_k = a^(2^k-1).
func (p *params) inv(a gf) gf {
	sqn := func(x gf, n int) gf {
		for i := 0; i < n; i++ {
			x = p.sq(x)
		}
		return x
	}
	x1 := a
	x2 := p.mul(sqn(x1, 1), x1)
	x3 := p.mul(sqn(x2, 1), x1)
	var top gf
	if p.m == 13 {
		x6 := p.mul(sqn(x3, 3), x3)
		top = p.mul(sqn(x6, 6), x6) // 2^12-1
	} else {
		x5 := p.mul(sqn(x3, 2), x2)
		x10 := p.mul(sqn(x5, 5), x5)
		top = p.mul(sqn(x10, 1), x1) // 2^11-1
	}
	return p.mul(top, top)
}

// sq returns a^2: the bits of a spread to the even positions, then reduced.
func (p *params) sq(a gf) gf {
	x := uint32(a)
	x = (x | x<<8) & 0x00FF00FF
	x = (x | x<<4) & 0x0F0F0F0F
	x = (x | x<<2) & 0x33333333
	x = (x | x<<1) & 0x55555555
	return p.reduce(x)
}

// isZeroMask returns 0xFFFF when a == 0 and 0 otherwise.
func isZeroMask(a gf) gf {
	x := uint32(a)
	x -= 1
	x >>= 31
	return gf(-x)
}

// bitrev reverses the low m bits of a.
func (p *params) bitrev(a gf) gf {
	a = a>>8 | a<<8
	a = (a&0xF0F0)>>4 | (a&0x0F0F)<<4
	a = (a&0xCCCC)>>2 | (a&0x3333)<<2
	a = (a&0xAAAA)>>1 | (a&0x5555)<<1
	return a >> (16 - p.m)
}

// gfMask returns the mask of the low m bits.
func (p *params) gfMask() gf { return gf(1)<<p.m - 1 }
