package mceliece

import "math/bits"

// sortUint64 sorts x ascending with a fixed sorting network (Batcher-style merging, the
// structure of djbsort's portable code): the sequence of compare-exchanges depends only on
// len(x), and each compare-exchange is branch-free.
func sortUint64(x []uint64) {
	n := len(x)
	if n < 2 {
		return
	}
	top := 1
	for top < n-top {
		top += top
	}
	for p := top; p > 0; p >>= 1 {
		for i := 0; i < n-p; i++ {
			if i&p == 0 {
				minmax(&x[i], &x[i+p])
			}
		}
		for q := top; q > p; q >>= 1 {
			for i := 0; i < n-q; i++ {
				if i&p == 0 {
					minmax(&x[i+p], &x[i+q])
				}
			}
		}
	}
}

// minmax puts the smaller of *a, *b into *a, without branching on their values.
func minmax(a, b *uint64) {
	x, y := *a, *b
	_, borrow := bits.Sub64(y, x, 0) // borrow == 1 iff y < x
	d := (x ^ y) & -borrow
	*a = x ^ d
	*b = y ^ d
}
