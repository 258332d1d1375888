package mceliece

import (
	"crypto/aes"
	"crypto/cipher"
)

// ctrDRBG is the NIST SP 800-90A AES-256 CTR_DRBG without derivation function or
// personalisation, as used by the NIST KAT generator (PQCgenKAT_kem.c / rng.c). Each Read
// is one randombytes call: it produces len(b) bytes and then updates the state, so the
// output depends on how requests are split.
type ctrDRBG struct {
	key [32]byte
	v   [16]byte
}

func newCTRDRBG(entropy []byte) *ctrDRBG {
	d := &ctrDRBG{}
	d.update(entropy)
	return d
}

func (d *ctrDRBG) block() cipher.Block {
	b, err := aes.NewCipher(d.key[:])
	if err != nil {
		panic(err)
	}
	return b
}

func (d *ctrDRBG) incV() {
	for i := 15; i >= 0; i-- {
		d.v[i]++
		if d.v[i] != 0 {
			break
		}
	}
}

func (d *ctrDRBG) update(pd []byte) {
	b := d.block()
	var tmp [48]byte
	for i := 0; i < 3; i++ {
		d.incV()
		b.Encrypt(tmp[16*i:], d.v[:])
	}
	for i := range pd {
		tmp[i] ^= pd[i]
	}
	copy(d.key[:], tmp[:32])
	copy(d.v[:], tmp[32:])
}

// Read implements randombytes(b, len(b)).
func (d *ctrDRBG) Read(out []byte) (int, error) {
	b := d.block()
	var blk [16]byte
	for i := 0; i < len(out); i += 16 {
		d.incV()
		b.Encrypt(blk[:], d.v[:])
		copy(out[i:], blk[:])
	}
	d.update(nil)
	return len(out), nil
}
