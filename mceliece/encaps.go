package mceliece

import (
	"crypto/sha3"
	"encoding/binary"
	"io"
	"math/bits"
)

// Encapsulation (spec sections 2.2.2, 2.4.4 and 2.4.5): draw a random weight-t vector e,
// send its syndrome C = H e, and derive K = SHAKE256(1 ‖ e ‖ C) (32 bytes).

// fixedWeight draws e (nWords words, bit i = position i) the way the reference does: each
// attempt reads 4t bytes (2t bytes when n = 2^m) with one io.ReadFull, takes the
// little-endian 16-bit words masked to m bits, keeps the first t below n, and retries on
// too few or on repeated positions. Only the retry decision is a branch.
func (p *params) fixedWeight(rand io.Reader) ([]uint64, error) {
	t, n := p.t, p.n
	nums := 2 * t
	if n == 1<<p.m {
		nums = t
	}
	buf := make([]byte, 2*nums)
	ind := make([]uint16, nums+1)
	mask := p.gfMask()
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, err
		}
		count := 0
		for i := 0; i < nums; i++ {
			v := binary.LittleEndian.Uint16(buf[2*i:]) & mask
			ind[count] = v
			inRange := ltMask(uint32(v), uint32(n)) & ltMask(uint32(count), uint32(t))
			count += int(inRange & 1)
		}
		if count < t {
			continue
		}
		var eq uint64
		for i := 1; i < t; i++ {
			for j := 0; j < i; j++ {
				eq |= ctIsZero64(uint64(ind[i] ^ ind[j]))
			}
		}
		if eq != 0 {
			continue
		}
		e := make([]uint64, p.nWords)
		for j := 0; j < t; j++ {
			wj := uint64(ind[j] >> 6)
			bit := uint64(1) << (ind[j] & 63)
			for w := range e {
				// (w ^ wj) - 1 has its top bit set exactly when w == wj
				sel := uint64(int64((uint64(w)^wj)-1) >> 63)
				e[w] |= bit & sel
			}
		}
		return e, nil
	}
}

// ltMask returns 0xFFFFFFFF when a < b and 0 otherwise (a, b < 2^31).
func ltMask(a, b uint32) uint32 {
	return uint32(int32(a-b) >> 31)
}

// syndrome returns C = H e = e[0:mt] + T e[mt:n] packed into ctBytes bytes.
func (p *params) syndrome(pkRows []uint64, e []uint64) []byte {
	W := p.pkRowWords
	tail := make([]uint64, W)
	for w := range tail {
		tail[w] = get64(e, p.mt+64*w)
	}
	if r := p.k % 64; r != 0 {
		tail[W-1] &= 1<<uint(r) - 1
	}
	ct := make([]byte, p.ctBytes)
	for i := 0; i < p.mt; i++ {
		b := uint64(rowParity(pkRows[i*W:(i+1)*W], tail)) ^ (e[i>>6] >> uint(i&63) & 1)
		ct[i>>3] |= byte(b << uint(i&7))
	}
	return ct
}

// rowParity returns the parity of popcount(row AND tail), with four accumulators.
func rowParity(row, tail []uint64) int {
	tail = tail[:len(row)]
	var a0, a1, a2, a3 uint64
	w := 0
	for ; w+4 <= len(row); w += 4 {
		r := row[w : w+4 : w+4]
		t := tail[w : w+4 : w+4]
		a0 ^= r[0] & t[0]
		a1 ^= r[1] & t[1]
		a2 ^= r[2] & t[2]
		a3 ^= r[3] & t[3]
	}
	for ; w < len(row); w++ {
		a0 ^= row[w] & tail[w]
	}
	return bits.OnesCount64(a0^a1^a2^a3) & 1
}

// encapsulate returns the ciphertext and the shared key for the public matrix pkRows.
func (p *params) encapsulate(pkRows []uint64, rand io.Reader) (ct, ss []byte, err error) {
	e, err := p.fixedWeight(rand)
	if err != nil {
		return nil, nil, err
	}
	ct = p.syndrome(pkRows, e)
	eb := wordsToBytes(e, p.n/8)
	ss = hashKey(1, eb, ct)
	return ct, ss, nil
}

// hashKey returns SHAKE256(b ‖ e ‖ C), 32 bytes.
func hashKey(b byte, e, c []byte) []byte {
	h := sha3.NewSHAKE256()
	h.Write([]byte{b})
	h.Write(e)
	h.Write(c)
	out := make([]byte, sharedKeySize)
	h.Read(out)
	return out
}

// wordsToBytes serialises the first nbytes bytes of a little-endian word array.
func wordsToBytes(w []uint64, nbytes int) []byte {
	out := make([]byte, len(w)*8)
	for i, v := range w {
		binary.LittleEndian.PutUint64(out[8*i:], v)
	}
	return out[:nbytes]
}

// parsePublicRows unpacks the public key (mt rows of pkRowBytes bytes) into rows of
// pkRowWords words. It reports false when a row has nonzero padding bits (only possible
// for mceliece6960119*, whose rows are 5413 bits), which the reference rejects too.
func (p *params) parsePublicRows(pk []byte) ([]uint64, bool) {
	W, RB := p.pkRowWords, p.pkRowBytes
	rows := make([]uint64, p.mt*W)
	var pad byte
	padShift := uint(p.k % 8)
	for i := 0; i < p.mt; i++ {
		src := pk[i*RB : (i+1)*RB]
		dst := rows[i*W : (i+1)*W]
		full := RB / 8
		for w := 0; w < full; w++ {
			dst[w] = binary.LittleEndian.Uint64(src[8*w:])
		}
		if full < W {
			var tmp [8]byte
			copy(tmp[:], src[8*full:])
			dst[full] = binary.LittleEndian.Uint64(tmp[:])
		}
		if padShift != 0 {
			pad |= src[RB-1] >> padShift
		}
	}
	return rows, pad == 0
}
