package mceliece

import (
	"crypto/sha3"
	"encoding/binary"
)

// Key generation (spec section 2.4 and the reference's crypto_kem_keypair).
//
// From the 32-byte seed δ: E = SHAKE256(64 ‖ δ) of n/8 + 4·2^m + 2t + 32 bytes, read as
//
//	s (n/8) ‖ field-ordering words (4·2^m) ‖ Goppa bits (2t) ‖ next δ (32)
//
// A failed attempt (Goppa polynomial of degree < t, repeated field-ordering words, a
// non-systematic matrix, or for the f variants a rank-deficient pivot window) retries
// with the next δ. Every failure condition is a public event in the spec.

// generateKey runs key generation from δ and returns the public and secret keys.
func (p *params) generateKey(delta []byte) (pk, sk []byte) {
	seed := make([]byte, 33)
	seed[0] = 64
	copy(seed[1:], delta)
	rlen := p.n/8 + 4<<p.m + 2*p.t + 32
	r := make([]byte, rlen)
	sk = make([]byte, p.skBytes)
	mask := p.gfMask()
	for {
		h := sha3.NewSHAKE256()
		h.Write(seed)
		h.Read(r)
		copy(sk[skDeltaOff:], seed[1:])
		copy(seed[1:], r[rlen-32:])

		off := rlen - 32 - 2*p.t
		beta := make([]gf, p.t)
		for i := range beta {
			beta[i] = binary.LittleEndian.Uint16(r[off+2*i:]) & mask
		}
		g, ok := p.genPoly(beta)
		if !ok {
			continue
		}
		off -= 4 << p.m
		perm := make([]uint32, 1<<p.m)
		for i := range perm {
			perm[i] = binary.LittleEndian.Uint32(r[off+4*i:])
		}
		pkOut, pi, pivots, ok := p.publicKeyGen(g, perm)
		if !ok {
			continue
		}
		binary.LittleEndian.PutUint64(sk[skCOff:], pivots)
		for i, c := range g {
			binary.LittleEndian.PutUint16(sk[skGOff+2*i:], c)
		}
		cb := controlBits(pi, p.m)
		copy(sk[skGOff+p.irrBytes:], cb)
		off -= p.n / 8
		copy(sk[skGOff+p.irrBytes+p.condBytes:], r[off:off+p.n/8])
		return pkOut, sk
	}
}

// fieldOrdering turns the 2^m random 32-bit words into the permutation π (spec 2.4.2):
// sort the pairs (perm[i], i) and read off the indices. Repeated words are a failure.
func (p *params) fieldOrdering(perm []uint32) (pi []int32, ok bool) {
	q := len(perm)
	buf := make([]uint64, q)
	for i, v := range perm {
		buf[i] = uint64(v)<<31 | uint64(i)
	}
	sortUint64(buf)
	var dup uint64
	for i := 1; i < q; i++ {
		x := buf[i-1]>>31 ^ buf[i]>>31
		dup |= ctIsZero64(x)
	}
	if dup != 0 { // public failure
		return nil, false
	}
	pi = make([]int32, q)
	for i := range pi {
		pi[i] = int32(buf[i] & uint64(p.gfMask()))
	}
	return pi, true
}

// ctIsZero64 returns 1 when x == 0 and 0 otherwise.
func ctIsZero64(x uint64) uint64 {
	return ((x | -x) >> 63) ^ 1
}

// publicKeyGen builds the parity-check matrix from g and the field ordering, reduces it to
// systematic form and returns the public key bytes, the (possibly column-swapped) field
// ordering π, and the pivot bitmap c.
func (p *params) publicKeyGen(g []gf, perm []uint32) (pk []byte, pi []int32, pivots uint64, ok bool) {
	pi, ok = p.fieldOrdering(perm)
	if !ok {
		return nil, nil, 0, false
	}
	n, t, m, W := p.n, p.t, p.m, p.nWords
	L := make([]gf, n)
	for i := range L {
		L[i] = p.bitrev(gf(pi[i]))
	}
	// inv[j] = 1/g(L[j]); g is monic of degree t.
	inv := make([]gf, n)
	for j := range inv {
		v := gf(1)
		for i := t - 1; i >= 0; i-- {
			v = p.mul(v, L[j]) ^ g[i]
		}
		inv[j] = p.inv(v)
	}
	mat := make([]uint64, p.mt*W)
	for i := 0; i < t; i++ {
		for j := 0; j < n; j++ {
			v := uint64(inv[j])
			word, sh := j>>6, uint(j&63)
			for k := 0; k < m; k++ {
				mat[(i*m+k)*W+word] |= (v >> k & 1) << sh
			}
			inv[j] = p.mul(inv[j], L[j])
		}
	}
	pivots = 0xFFFFFFFF
	if !p.eliminate(mat, pi, &pivots) {
		return nil, nil, 0, false
	}
	pk = make([]byte, p.pkBytes)
	for i := 0; i < p.mt; i++ {
		extractBits(pk[i*p.pkRowBytes:(i+1)*p.pkRowBytes], mat[i*W:(i+1)*W], p.mt, p.k)
	}
	return pk, pi, pivots, true
}

// extractBits writes bits [off, off+nbits) of the little-endian bit string src into dst,
// little-endian bit order, leaving the unused high bits of the last byte zero.
func extractBits(dst []byte, src []uint64, off, nbits int) {
	for i := range dst {
		dst[i] = 0
	}
	for b := 0; b < nbits; b += 64 {
		v := get64(src, off+b)
		rem := nbits - b
		if rem < 64 {
			v &= 1<<uint(rem) - 1
		}
		for k := 0; k < 8 && b/8+k < len(dst); k++ {
			dst[b/8+k] = byte(v >> (8 * k))
		}
	}
}

// get64 returns the 64 bits starting at bit position pos (bits past the end read as 0).
func get64(src []uint64, pos int) uint64 {
	w, s := pos>>6, uint(pos&63)
	var lo, hi uint64
	if w < len(src) {
		lo = src[w]
	}
	if s == 0 {
		return lo
	}
	if w+1 < len(src) {
		hi = src[w+1]
	}
	return lo>>s | hi<<(64-s)
}

// set64 overwrites the 64 bits starting at bit position pos; they must lie inside dst.
func set64(dst []uint64, pos int, v uint64) {
	w, s := pos>>6, uint(pos&63)
	if s == 0 {
		dst[w] = v
		return
	}
	dst[w] = dst[w]&(1<<s-1) | v<<s
	dst[w+1] = dst[w+1]&^(1<<s-1) | v>>(64-s)
}

// eliminate reduces the mt x n matrix (rows of nWords words) to [I | T] in place. For the
// f variants it first moves pivot columns into place when it reaches row mt-32 and
// records them in *pivots. The row operations are masked: which rows are added depends on
// no secret-dependent branch; only the (public) failure exit is a branch.
func (p *params) eliminate(mat []uint64, pi []int32, pivots *uint64) bool {
	W, rows := p.nWords, p.mt
	for r := 0; r < rows; r++ {
		if p.semi && r == rows-32 {
			if !p.moveColumns(mat, pi, pivots) {
				return false
			}
		}
		w, b := r>>6, uint(r&63)
		rowR := mat[r*W+w : (r+1)*W]
		for k := r + 1; k < rows; k++ {
			rowK := mat[k*W+w : (k+1)*W]
			mask := -((^rowR[0] & rowK[0]) >> b & 1)
			xorMasked(rowR, rowK, mask)
		}
		if rowR[0]>>b&1 == 0 { // not systematic: public failure
			return false
		}
		for k := 0; k < rows; k++ {
			if k == r {
				continue
			}
			rowK := mat[k*W+w : (k+1)*W]
			mask := -(rowK[0] >> b & 1)
			xorMasked(rowK, rowR, mask)
		}
	}
	return true
}

// xorMasked sets dst ^= src & mask word by word.
func xorMasked(dst, src []uint64, mask uint64) {
	src = src[:len(dst)]
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		d := dst[i : i+4 : i+4]
		s := src[i : i+4 : i+4]
		d[0] ^= s[0] & mask
		d[1] ^= s[1] & mask
		d[2] ^= s[2] & mask
		d[3] ^= s[3] & mask
	}
	for ; i < len(dst); i++ {
		dst[i] ^= src[i] & mask
	}
}

// moveColumns implements the semi-systematic step (μ, ν) = (32, 64): in the 32 x 64 window
// at rows and columns starting at r0 = mt-32 it finds the pivot columns of the reduced row
// echelon form, swaps them to the front of the window in every row, applies the same
// swaps to π, and records them in *pivots (bit j set = window column j is a pivot).
func (p *params) moveColumns(mat []uint64, pi []int32, pivots *uint64) bool {
	W, r0 := p.nWords, p.mt-32
	var buf [32]uint64
	for i := range buf {
		buf[i] = get64(mat[(r0+i)*W:(r0+i+1)*W], r0)
	}
	var ctzList [32]int
	*pivots = 0
	for i := 0; i < 32; i++ {
		t := buf[i]
		for j := i + 1; j < 32; j++ {
			t |= buf[j]
		}
		if t == 0 { // window not of full rank: public failure
			return false
		}
		s := ctz64(t)
		ctzList[i] = s
		*pivots |= 1 << uint(s)
		for j := i + 1; j < 32; j++ {
			mask := (buf[i] >> uint(s) & 1) - 1
			buf[i] ^= buf[j] & mask
		}
		for j := i + 1; j < 32; j++ {
			mask := -(buf[j] >> uint(s) & 1)
			buf[j] ^= buf[i] & mask
		}
	}
	for j := 0; j < 32; j++ {
		for k := j + 1; k < 64; k++ {
			d := pi[r0+j] ^ pi[r0+k]
			d &= int32(-ctIsZero64(uint64(k ^ ctzList[j])))
			pi[r0+j] ^= d
			pi[r0+k] ^= d
		}
	}
	for i := 0; i < p.mt; i++ {
		row := mat[i*W : (i+1)*W]
		t := get64(row, r0)
		for j := 0; j < 32; j++ {
			c := uint(ctzList[j])
			d := (t>>uint(j) ^ t>>c) & 1
			t ^= d << c
			t ^= d << uint(j)
		}
		set64(row, r0, t)
	}
	return true
}

// ctz64 counts the trailing zeros of x != 0 in constant time.
func ctz64(x uint64) int {
	var seen uint64
	r := 0
	for i := 0; i < 64; i++ {
		seen |= x >> uint(i) & 1
		r += int(seen ^ 1)
	}
	return r
}
