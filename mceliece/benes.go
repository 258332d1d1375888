package mceliece

import "encoding/binary"

// Bit-vector form of the Beneš network: the control bits expanded once per secret key
// into one 64-bit mask per word and layer, so that permuting a vector of 2^m bits costs
// (2m-1) * 2^m/64 masked word operations with no data-dependent branch or address.

type benesNet struct {
	m     int
	masks [][]uint64 // per layer: pair masks (gap >= 64) or in-word masks (gap < 64)
}

func newBenesNet(cb []byte, m int) *benesNet {
	q := 1 << m
	layerBytes := q / 16
	nl := 2*m - 1
	bn := &benesNet{m: m, masks: make([][]uint64, nl)}
	for i := 0; i < nl; i++ {
		gl := i
		if 2*m-2-i < gl {
			gl = 2*m - 2 - i
		}
		gap := 1 << gl
		layer := cb[i*layerBytes : (i+1)*layerBytes]
		word := func(j int) uint64 { return binary.LittleEndian.Uint64(layer[8*j:]) }
		if gap >= 64 {
			ms := make([]uint64, q/128)
			k := 0
			for w0 := 0; w0 < q/64; w0++ {
				if (w0*64)&gap != 0 {
					continue
				}
				j0 := (64*w0)%gap + gap*((64*w0)/(2*gap))
				ms[k] = word(j0 / 64)
				k++
			}
			bn.masks[i] = ms
			continue
		}
		ms := make([]uint64, q/64)
		for w := range ms {
			c := word(32*w/64) >> uint(32*w%64) & 0xFFFFFFFF
			ms[w] = spread(c, gl)
		}
		bn.masks[i] = ms
	}
	return bn
}

// spread moves the 32 bits of c to the 64-bit positions whose bit gl is zero, in order.
func spread(c uint64, gl int) uint64 {
	steps := [...]struct {
		s    uint
		mask uint64
	}{
		{16, 0x0000FFFF0000FFFF},
		{8, 0x00FF00FF00FF00FF},
		{4, 0x0F0F0F0F0F0F0F0F},
		{2, 0x3333333333333333},
		{1, 0x5555555555555555},
	}
	for _, st := range steps {
		if int(st.s) < 1<<gl {
			break
		}
		c = (c | c<<st.s) & st.mask
	}
	return c
}

// layer applies layer i to the bit vector x.
func (bn *benesNet) layer(x []uint64, i int) {
	m := bn.m
	gl := i
	if 2*m-2-i < gl {
		gl = 2*m - 2 - i
	}
	gap := 1 << gl
	ms := bn.masks[i]
	if gap >= 64 {
		gw := gap / 64
		k := 0
		for w0 := 0; w0 < len(x); w0++ {
			if w0&gw != 0 {
				continue
			}
			d := (x[w0] ^ x[w0+gw]) & ms[k]
			x[w0] ^= d
			x[w0+gw] ^= d
			k++
		}
		return
	}
	s := uint(gap)
	for w := range x {
		v := x[w]
		d := (v ^ v>>s) & ms[w]
		x[w] = v ^ d ^ d<<s
	}
}

// forward permutes x (2^m bits) so that out[i] = in[π(i)].
func (bn *benesNet) forward(x []uint64) {
	for i := 0; i < 2*bn.m-1; i++ {
		bn.layer(x, i)
	}
}

// reverse undoes forward: out[π(i)] = in[i].
func (bn *benesNet) reverse(x []uint64) {
	for i := 2*bn.m - 2; i >= 0; i-- {
		bn.layer(x, i)
	}
}
