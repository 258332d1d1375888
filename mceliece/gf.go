package mceliece

// Scalar arithmetic in GF(2^m), m = 12 or 13. Elements are uint16 in the polynomial basis
// 1, z, ..., z^(m-1). Every routine here runs in time independent of its operands: no
// table look-ups, no branches on values, only shifts, ANDs and XORs with masks.

type gf = uint16

// mul returns a*b in GF(2^m).
func (p *params) mul(a, b gf) gf {
	x, y := uint32(a), uint32(b)
	var r uint32
	for i := 0; i < p.m; i++ {
		r ^= (x << i) & -((y >> i) & 1)
	}
	return p.reduce(r)
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

// inv returns a^(2^m-2), the inverse of a for a != 0 and 0 for a == 0.
func (p *params) inv(a gf) gf {
	x, r := a, gf(1)
	for i := 1; i < p.m; i++ {
		x = p.mul(x, x)
		r = p.mul(r, x)
	}
	return r
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
