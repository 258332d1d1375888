package mceliece

// Decapsulation (spec sections 2.2.3 and 2.3.3): decode the syndrome with the Goppa code,
// check that the result has weight t and the same syndrome, and derive
// K = SHAKE256(1 ‖ e ‖ C) on success or K = SHAKE256(0 ‖ s ‖ C) on failure, the choice
// made with a mask. mceliece6960119* ciphertexts with nonzero padding bits give 32 bytes
// of 0xFF, as in the reference.

// decapsulate returns the shared key for ct under the secret key sk and whether the
// ciphertext padding bits were zero.
func (p *params) decapsulate(sk, ct []byte, xk *expandedKey) (ss []byte, paddingOK bool) {
	e, okMask := p.decodeFast(ct, xk)
	s := sk[skGOff+p.irrBytes+p.condBytes:]
	nb := p.n / 8
	pre := make([]byte, nb)
	m := byte(okMask)
	for i := 0; i < nb; i++ {
		pre[i] = ^m&s[i] | m&e[i]
	}
	ss = hashKey(m&1, pre, ct)
	if r := p.mt % 8; r != 0 {
		bad := ct[p.ctBytes-1] >> uint(r)
		badMask := byte(0) - byte(1-ctIsZero64(uint64(bad)))
		for i := range ss {
			ss[i] |= badMask
		}
		return ss, bad == 0
	}
	return ss, true
}
