package mceliece

// Beneš-network control bits (spec section 2.4.3 and Bernstein, "Verified fast formulas for
// control bits for permutation networks", ePrint 2020/1493).
//
// A network for 2^w positions has 2w-1 layers of 2^(w-1) conditional swaps. Layer i swaps
// positions at distance 2^min(i, 2w-2-i); control bit number j of layer i (bit i*2^(w-1)+j of
// the stream, stored little-endian bit order within bytes) decides the swap of positions
// pos and pos+gap with pos = (j mod gap) + 2*gap*floor(j/gap). Applying the layers in order
// to the list 0, 1, ..., 2^w-1 yields the permutation π itself.

// controlBits returns the control bits for π (len(π) = 2^w) packed into bytes, exactly as
// the reference implementation stores them in the secret key.
//
// Every step is data-oblivious: composing with an inverse permutation is a sort of the
// pairs (π[x], c[x]) by a fixed sorting network, and the minima are taken with masks.
func controlBits(pi []int32, w int) []byte {
	n := len(pi)
	nbits := (2*w - 1) * n / 2
	bitsOut := make([]byte, nbits)
	cbRecurse(bitsOut, pi, w)
	out := make([]byte, (nbits+7)/8)
	for i, b := range bitsOut {
		out[i>>3] |= b << (i & 7)
	}
	return out
}

// composeInv returns the list y with y[π[x]] = c[x], that is c ∘ π^-1. It sorts the
// pairs (π[x], c[x]) with the constant-time network of sort.go instead of writing to the
// secret addresses π[x], so its memory-access pattern depends only on len(π).
func composeInv(c, pi []int32) []int32 {
	buf := make([]uint64, len(c))
	for x := range buf {
		buf[x] = uint64(uint32(pi[x]))<<32 | uint64(uint32(c[x]))
	}
	sortUint64(buf)
	out := make([]int32, len(c))
	for i, v := range buf {
		out[i] = int32(uint32(v))
	}
	return out
}

// cbRecurse writes the (2w-1)*2^(w-1) control bits of π into out, one bit per byte.
func cbRecurse(out []byte, pi []int32, w int) {
	n := len(pi)
	if w == 1 {
		out[0] = byte(pi[0])
		return
	}
	p := make([]int32, n)
	q := make([]int32, n)
	ident := make([]int32, n)
	for x := 0; x < n; x++ {
		p[x] = pi[x^1]
		q[x] = pi[x] ^ 1
		ident[x] = int32(x)
	}
	piInv := composeInv(ident, pi)
	p, q = composeInv(p, q), composeInv(q, p)

	c := make([]int32, n)
	for x := 0; x < n; x++ {
		c[x] = min32(int32(x), p[x])
	}
	p, q = composeInv(p, q), composeInv(q, p)
	for i := 1; i < w-1; i++ {
		cp := composeInv(c, q)
		p, q = composeInv(p, q), composeInv(q, p)
		for x := 0; x < n; x++ {
			c[x] = min32(c[x], cp[x])
		}
	}

	half := n / 2
	f := make([]int32, half)
	for j := 0; j < half; j++ {
		f[j] = c[2*j] & 1
	}
	F := make([]int32, n)
	for x := 0; x < n; x++ {
		F[x] = int32(x) ^ f[x/2]
	}
	Fpi := composeInv(F, piInv)
	l := make([]int32, half)
	for k := 0; k < half; k++ {
		l[k] = Fpi[2*k] & 1
	}
	L := make([]int32, n)
	for y := 0; y < n; y++ {
		L[y] = int32(y) ^ l[y/2]
	}
	M := composeInv(Fpi, L)
	sub0 := make([]int32, half)
	sub1 := make([]int32, half)
	for j := 0; j < half; j++ {
		sub0[j] = M[2*j] / 2
		sub1[j] = M[2*j+1] / 2
	}
	subBits := (2*w - 3) * half / 2
	z0 := make([]byte, subBits)
	z1 := make([]byte, subBits)
	cbRecurse(z0, sub0, w-1)
	cbRecurse(z1, sub1, w-1)

	for j := 0; j < half; j++ {
		out[j] = byte(f[j])
	}
	z := out[half : half+2*subBits]
	for i := 0; i < subBits; i++ {
		z[2*i] = z0[i]
		z[2*i+1] = z1[i]
	}
	lo := out[half+2*subBits:]
	for k := 0; k < half; k++ {
		lo[k] = byte(l[k])
	}
}

// min32 returns the smaller of a and b without branching (both are non-negative).
func min32(a, b int32) int32 {
	d := (b - a) >> 31 // -1 when b < a
	return a ^ ((a ^ b) & d)
}

// applyLayers applies the network described by cb (2w-1 layers over 2^w entries) to x.
// Each swap is a masked exchange: the time and the memory addresses touched depend only
// on w, never on the control bits or the data.
func applyLayers(x []uint16, cb []byte, w int) {
	n := len(x)
	half := n / 2
	for i := 0; i < 2*w-1; i++ {
		gapLog := i
		if 2*w-2-i < gapLog {
			gapLog = 2*w - 2 - i
		}
		gap := 1 << gapLog
		base := i * half
		for j := 0; j < half; j++ {
			k := base + j
			m := -uint16(cb[k>>3] >> (k & 7) & 1)
			pos := (j & (gap - 1)) + 2*gap*(j>>gapLog)
			d := (x[pos] ^ x[pos+gap]) & m
			x[pos] ^= d
			x[pos+gap] ^= d
		}
	}
}
