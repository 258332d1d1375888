package mceliece

// Bitsliced GF(2^m) arithmetic: a vec holds 64 field elements, plane k being bit k of
// each of the 64 lanes. Multiplication is schoolbook over the planes followed by the
// reduction by f(z); it uses only AND and XOR on whole words.

type vec [13]uint64

// vecMul sets *out = a*b lane by lane.
func (p *params) vecMul(out, a, b *vec) {
	if p.m == 12 {
		vecMul12(out, a, b)
	} else {
		vecMul13(out, a, b)
	}
}

// vecSq sets *out = a^2 lane by lane (squaring is linear: a_i z^i -> a_i z^(2i)).
func (p *params) vecSq(out, a *vec) {
	if p.m == 12 {
		vecSq12(out, a)
	} else {
		vecSq13(out, a)
	}
}

// vecSqN sets *out = a^(2^n).
func (p *params) vecSqN(out, a *vec, n int) {
	t := *a
	for i := 0; i < n; i++ {
		p.vecSq(&t, &t)
	}
	*out = t
}

// vecInv sets *out = a^(2^m-2), the lane-wise inverse (0 stays 0), with the addition
// chain x_{i+j} = x_i^(2^j) * x_j for x_k = a^(2^k-1).
func (p *params) vecInv(out, a *vec) {
	var x2, x3, t vec
	x1 := *a
	p.vecSq(&t, &x1)
	p.vecMul(&x2, &t, &x1) // 2^2-1
	p.vecSq(&t, &x2)
	p.vecMul(&x3, &t, &x1) // 2^3-1
	var top vec
	if p.m == 13 {
		var x6 vec
		p.vecSqN(&t, &x3, 3)
		p.vecMul(&x6, &t, &x3) // 2^6-1
		p.vecSqN(&t, &x6, 6)
		p.vecMul(&top, &t, &x6) // 2^12-1
	} else {
		var x5, x10 vec
		p.vecSqN(&t, &x3, 2)
		p.vecMul(&x5, &t, &x2) // 2^5-1
		p.vecSqN(&t, &x5, 5)
		p.vecMul(&x10, &t, &x5) // 2^10-1
		p.vecSq(&t, &x10)
		p.vecMul(&top, &t, &x1) // 2^11-1
	}
	p.vecSq(out, &top)
}

// vecInvAll replaces every lane of every vec in a by its inverse (0 stays 0) with one
// vecInv and 3(len(a)-1) products (Montgomery's trick). Zero lanes are set to 1 for the
// products and cleared again afterwards, so the result equals lane-wise vecInv.
func (p *params) vecInvAll(a []vec) {
	n := len(a)
	if n == 0 {
		return
	}
	m := p.m
	zero := make([]uint64, n)
	for i := range a {
		var or uint64
		for k := 0; k < m; k++ {
			or |= a[i][k]
		}
		zero[i] = ^or
		a[i][0] |= zero[i]
	}
	pre := make([]vec, n)
	pre[0] = a[0]
	for i := 1; i < n; i++ {
		p.vecMul(&pre[i], &pre[i-1], &a[i])
	}
	var inv, t vec
	p.vecInv(&inv, &pre[n-1])
	for i := n - 1; i > 0; i-- {
		p.vecMul(&t, &inv, &pre[i-1]) // 1/a[i]
		p.vecMul(&inv, &inv, &a[i])   // 1/(a[0]...a[i-1])
		a[i] = t
	}
	a[0] = inv
	for i := range a {
		for k := 0; k < m; k++ {
			a[i][k] &^= zero[i]
		}
	}
}

// broadcast returns the vec whose 64 lanes all hold c.
func broadcast(c gf, m int) vec {
	var v vec
	for k := 0; k < m; k++ {
		v[k] = -uint64(c >> k & 1)
	}
	return v
}

// laneGet returns lane l of v (used by tests and table construction only).
func laneGet(v *vec, l int, m int) gf {
	var c gf
	for k := 0; k < m; k++ {
		c |= gf(v[k]>>uint(l)&1) << k
	}
	return c
}

// laneSet sets lane l of v to c.
func laneSet(v *vec, l int, c gf, m int) {
	for k := 0; k < m; k++ {
		v[k] = v[k]&^(1<<uint(l)) | uint64(c>>k&1)<<uint(l)
	}
}
