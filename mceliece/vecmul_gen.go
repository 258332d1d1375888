// The unrolled bitsliced products. The terms follow one pattern (see the comment below);
// regenerate them with a script rather than editing them by hand.

package mceliece

// vecMul13 and vecMul12 are the fully unrolled schoolbook products of vec.go: column k
// of the product is the XOR of a_i & b_(k-i), then the high columns fold back through
// z^13 = z^4+z^3+z+1 (resp. z^12 = z^3+1), highest first. vecSq13 and vecSq12 are
// the same for a*a, where only the even columns a_i z^(2i) survive; each output plane is
// the XOR of the input planes the folding sends to it.

func vecMul13(out, a, b *vec) {
	a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12 := a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]
	b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12 := b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12]
	r0 := a0 & b0
	r1 := a0&b1 ^ a1&b0
	r2 := a0&b2 ^ a1&b1 ^ a2&b0
	r3 := a0&b3 ^ a1&b2 ^ a2&b1 ^ a3&b0
	r4 := a0&b4 ^ a1&b3 ^ a2&b2 ^ a3&b1 ^ a4&b0
	r5 := a0&b5 ^ a1&b4 ^ a2&b3 ^ a3&b2 ^ a4&b1 ^ a5&b0
	r6 := a0&b6 ^ a1&b5 ^ a2&b4 ^ a3&b3 ^ a4&b2 ^ a5&b1 ^ a6&b0
	r7 := a0&b7 ^ a1&b6 ^ a2&b5 ^ a3&b4 ^ a4&b3 ^ a5&b2 ^ a6&b1 ^ a7&b0
	r8 := a0&b8 ^ a1&b7 ^ a2&b6 ^ a3&b5 ^ a4&b4 ^ a5&b3 ^ a6&b2 ^ a7&b1 ^ a8&b0
	r9 := a0&b9 ^ a1&b8 ^ a2&b7 ^ a3&b6 ^ a4&b5 ^ a5&b4 ^ a6&b3 ^ a7&b2 ^ a8&b1 ^ a9&b0
	r10 := a0&b10 ^ a1&b9 ^ a2&b8 ^ a3&b7 ^ a4&b6 ^ a5&b5 ^ a6&b4 ^ a7&b3 ^ a8&b2 ^ a9&b1 ^ a10&b0
	r11 := a0&b11 ^ a1&b10 ^ a2&b9 ^ a3&b8 ^ a4&b7 ^ a5&b6 ^ a6&b5 ^ a7&b4 ^ a8&b3 ^ a9&b2 ^ a10&b1 ^ a11&b0
	r12 := a0&b12 ^ a1&b11 ^ a2&b10 ^ a3&b9 ^ a4&b8 ^ a5&b7 ^ a6&b6 ^ a7&b5 ^ a8&b4 ^ a9&b3 ^ a10&b2 ^ a11&b1 ^ a12&b0
	r13 := a1&b12 ^ a2&b11 ^ a3&b10 ^ a4&b9 ^ a5&b8 ^ a6&b7 ^ a7&b6 ^ a8&b5 ^ a9&b4 ^ a10&b3 ^ a11&b2 ^ a12&b1
	r14 := a2&b12 ^ a3&b11 ^ a4&b10 ^ a5&b9 ^ a6&b8 ^ a7&b7 ^ a8&b6 ^ a9&b5 ^ a10&b4 ^ a11&b3 ^ a12&b2
	r15 := a3&b12 ^ a4&b11 ^ a5&b10 ^ a6&b9 ^ a7&b8 ^ a8&b7 ^ a9&b6 ^ a10&b5 ^ a11&b4 ^ a12&b3
	r16 := a4&b12 ^ a5&b11 ^ a6&b10 ^ a7&b9 ^ a8&b8 ^ a9&b7 ^ a10&b6 ^ a11&b5 ^ a12&b4
	r17 := a5&b12 ^ a6&b11 ^ a7&b10 ^ a8&b9 ^ a9&b8 ^ a10&b7 ^ a11&b6 ^ a12&b5
	r18 := a6&b12 ^ a7&b11 ^ a8&b10 ^ a9&b9 ^ a10&b8 ^ a11&b7 ^ a12&b6
	r19 := a7&b12 ^ a8&b11 ^ a9&b10 ^ a10&b9 ^ a11&b8 ^ a12&b7
	r20 := a8&b12 ^ a9&b11 ^ a10&b10 ^ a11&b9 ^ a12&b8
	r21 := a9&b12 ^ a10&b11 ^ a11&b10 ^ a12&b9
	r22 := a10&b12 ^ a11&b11 ^ a12&b10
	r23 := a11&b12 ^ a12&b11
	r24 := a12 & b12
	r11 ^= r24
	r12 ^= r24
	r14 ^= r24
	r15 ^= r24
	r10 ^= r23
	r11 ^= r23
	r13 ^= r23
	r14 ^= r23
	r9 ^= r22
	r10 ^= r22
	r12 ^= r22
	r13 ^= r22
	r8 ^= r21
	r9 ^= r21
	r11 ^= r21
	r12 ^= r21
	r7 ^= r20
	r8 ^= r20
	r10 ^= r20
	r11 ^= r20
	r6 ^= r19
	r7 ^= r19
	r9 ^= r19
	r10 ^= r19
	r5 ^= r18
	r6 ^= r18
	r8 ^= r18
	r9 ^= r18
	r4 ^= r17
	r5 ^= r17
	r7 ^= r17
	r8 ^= r17
	r3 ^= r16
	r4 ^= r16
	r6 ^= r16
	r7 ^= r16
	r2 ^= r15
	r3 ^= r15
	r5 ^= r15
	r6 ^= r15
	r1 ^= r14
	r2 ^= r14
	r4 ^= r14
	r5 ^= r14
	r0 ^= r13
	r1 ^= r13
	r3 ^= r13
	r4 ^= r13
	out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8], out[9], out[10], out[11], out[12] = r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12
}

func vecMul12(out, a, b *vec) {
	a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 := a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]
	b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11 := b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]
	r0 := a0 & b0
	r1 := a0&b1 ^ a1&b0
	r2 := a0&b2 ^ a1&b1 ^ a2&b0
	r3 := a0&b3 ^ a1&b2 ^ a2&b1 ^ a3&b0
	r4 := a0&b4 ^ a1&b3 ^ a2&b2 ^ a3&b1 ^ a4&b0
	r5 := a0&b5 ^ a1&b4 ^ a2&b3 ^ a3&b2 ^ a4&b1 ^ a5&b0
	r6 := a0&b6 ^ a1&b5 ^ a2&b4 ^ a3&b3 ^ a4&b2 ^ a5&b1 ^ a6&b0
	r7 := a0&b7 ^ a1&b6 ^ a2&b5 ^ a3&b4 ^ a4&b3 ^ a5&b2 ^ a6&b1 ^ a7&b0
	r8 := a0&b8 ^ a1&b7 ^ a2&b6 ^ a3&b5 ^ a4&b4 ^ a5&b3 ^ a6&b2 ^ a7&b1 ^ a8&b0
	r9 := a0&b9 ^ a1&b8 ^ a2&b7 ^ a3&b6 ^ a4&b5 ^ a5&b4 ^ a6&b3 ^ a7&b2 ^ a8&b1 ^ a9&b0
	r10 := a0&b10 ^ a1&b9 ^ a2&b8 ^ a3&b7 ^ a4&b6 ^ a5&b5 ^ a6&b4 ^ a7&b3 ^ a8&b2 ^ a9&b1 ^ a10&b0
	r11 := a0&b11 ^ a1&b10 ^ a2&b9 ^ a3&b8 ^ a4&b7 ^ a5&b6 ^ a6&b5 ^ a7&b4 ^ a8&b3 ^ a9&b2 ^ a10&b1 ^ a11&b0
	r12 := a1&b11 ^ a2&b10 ^ a3&b9 ^ a4&b8 ^ a5&b7 ^ a6&b6 ^ a7&b5 ^ a8&b4 ^ a9&b3 ^ a10&b2 ^ a11&b1
	r13 := a2&b11 ^ a3&b10 ^ a4&b9 ^ a5&b8 ^ a6&b7 ^ a7&b6 ^ a8&b5 ^ a9&b4 ^ a10&b3 ^ a11&b2
	r14 := a3&b11 ^ a4&b10 ^ a5&b9 ^ a6&b8 ^ a7&b7 ^ a8&b6 ^ a9&b5 ^ a10&b4 ^ a11&b3
	r15 := a4&b11 ^ a5&b10 ^ a6&b9 ^ a7&b8 ^ a8&b7 ^ a9&b6 ^ a10&b5 ^ a11&b4
	r16 := a5&b11 ^ a6&b10 ^ a7&b9 ^ a8&b8 ^ a9&b7 ^ a10&b6 ^ a11&b5
	r17 := a6&b11 ^ a7&b10 ^ a8&b9 ^ a9&b8 ^ a10&b7 ^ a11&b6
	r18 := a7&b11 ^ a8&b10 ^ a9&b9 ^ a10&b8 ^ a11&b7
	r19 := a8&b11 ^ a9&b10 ^ a10&b9 ^ a11&b8
	r20 := a9&b11 ^ a10&b10 ^ a11&b9
	r21 := a10&b11 ^ a11&b10
	r22 := a11 & b11
	r10 ^= r22
	r13 ^= r22
	r9 ^= r21
	r12 ^= r21
	r8 ^= r20
	r11 ^= r20
	r7 ^= r19
	r10 ^= r19
	r6 ^= r18
	r9 ^= r18
	r5 ^= r17
	r8 ^= r17
	r4 ^= r16
	r7 ^= r16
	r3 ^= r15
	r6 ^= r15
	r2 ^= r14
	r5 ^= r14
	r1 ^= r13
	r4 ^= r13
	r0 ^= r12
	r3 ^= r12
	out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8], out[9], out[10], out[11] = r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11
	out[12] = 0
}

func vecSq13(out, in *vec) {
	a := *in
	out[0] = a[0] ^ a[11]
	out[1] = a[7] ^ a[11] ^ a[12]
	out[2] = a[1] ^ a[7]
	out[3] = a[8] ^ a[11] ^ a[12]
	out[4] = a[2] ^ a[7] ^ a[8] ^ a[11] ^ a[12]
	out[5] = a[7] ^ a[9]
	out[6] = a[3] ^ a[8] ^ a[9] ^ a[12]
	out[7] = a[8] ^ a[10]
	out[8] = a[4] ^ a[9] ^ a[10]
	out[9] = a[9] ^ a[11]
	out[10] = a[5] ^ a[10] ^ a[11]
	out[11] = a[10] ^ a[12]
	out[12] = a[6] ^ a[11] ^ a[12]
}

func vecSq12(out, in *vec) {
	a := *in
	out[0] = a[0] ^ a[6]
	out[1] = a[11]
	out[2] = a[1] ^ a[7]
	out[3] = a[6]
	out[4] = a[2] ^ a[8] ^ a[11]
	out[5] = a[7]
	out[6] = a[3] ^ a[9]
	out[7] = a[8]
	out[8] = a[4] ^ a[10]
	out[9] = a[9]
	out[10] = a[5] ^ a[11]
	out[11] = a[10]
	out[12] = 0
}
