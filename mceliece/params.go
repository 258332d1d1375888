package mceliece

// params describes one Classic McEliece parameter set (round-4 specification, section 3).
//
// The field is GF(2^m) = GF(2)[z]/f(z); fieldPoly holds f(z) without its leading z^m term.
// The Goppa polynomial lives in GF(2^m)[y]/F(y), F(y) = y^t + sum of bigF terms, each a
// (power of y, coefficient in GF(2^m)) pair.
type params struct {
	name      string
	m, n, t   int
	fieldPoly uint16
	bigF      []bigFTerm
	semi      bool // the "f" variants: semi-systematic form with (mu, nu) = (32, 64)

	mt         int // rows of the parity-check matrix, m*t
	k          int // n - m*t, columns of the public matrix T
	pkRowBytes int // ceil(k/8): one row of T, little-endian bit order
	pkRowWords int // ceil(k/64)
	nWords     int // ceil(n/64)
	ctBytes    int // ceil(m*t/8): the syndrome
	irrBytes   int // 2t: Goppa polynomial, little-endian uint16 coefficients
	condBytes  int // (2m-1) * 2^(m-4): Beneš control bits
	pkBytes    int
	skBytes    int
}

type bigFTerm struct {
	exp  int
	coef uint16
}

const (
	sharedKeySize = 32
	seedSize      = 32 // δ, the spec's key-generation seed
	skDeltaOff    = 0  // sk: δ(32)
	skCOff        = 32 // sk: c(8), little-endian pivot bitmap (2^32-1 for non-f sets)
	skGOff        = 40 // sk: g(2t), then control bits, then s(n/8)
)

func newParams(name string, m, n, t int, fieldPoly uint16, bigF []bigFTerm, semi bool) *params {
	p := &params{name: name, m: m, n: n, t: t, fieldPoly: fieldPoly, bigF: bigF, semi: semi}
	p.mt = m * t
	p.k = n - p.mt
	p.pkRowBytes = (p.k + 7) / 8
	p.pkRowWords = (p.k + 63) / 64
	p.nWords = (n + 63) / 64
	p.ctBytes = (p.mt + 7) / 8
	p.irrBytes = 2 * t
	p.condBytes = (2*m - 1) << (m - 4)
	p.pkBytes = p.mt * p.pkRowBytes
	p.skBytes = 40 + p.irrBytes + p.condBytes + n/8
	return p
}

// Field polynomials: z^12 + z^3 + 1 and z^13 + z^4 + z^3 + z + 1.
const (
	poly12 = 0x0009
	poly13 = 0x001B
)

var (
	// F(y) = y^64 + y^3 + y + z
	bigF348864 = []bigFTerm{{3, 1}, {1, 1}, {0, 2}}
	// F(y) = y^96 + y^10 + y^9 + y^6 + 1
	bigF460896 = []bigFTerm{{10, 1}, {9, 1}, {6, 1}, {0, 1}}
	// F(y) = y^128 + y^7 + y^2 + y + 1 (6688128 and 8192128)
	bigF128 = []bigFTerm{{7, 1}, {2, 1}, {1, 1}, {0, 1}}
	// F(y) = y^119 + y^8 + 1
	bigF6960119 = []bigFTerm{{8, 1}, {0, 1}}
)

var allParams = []*params{
	newParams("mceliece348864", 12, 3488, 64, poly12, bigF348864, false),
	newParams("mceliece348864f", 12, 3488, 64, poly12, bigF348864, true),
	newParams("mceliece460896", 13, 4608, 96, poly13, bigF460896, false),
	newParams("mceliece460896f", 13, 4608, 96, poly13, bigF460896, true),
	newParams("mceliece6688128", 13, 6688, 128, poly13, bigF128, false),
	newParams("mceliece6688128f", 13, 6688, 128, poly13, bigF128, true),
	newParams("mceliece6960119", 13, 6960, 119, poly13, bigF6960119, false),
	newParams("mceliece6960119f", 13, 6960, 119, poly13, bigF6960119, true),
	newParams("mceliece8192128", 13, 8192, 128, poly13, bigF128, false),
	newParams("mceliece8192128f", 13, 8192, 128, poly13, bigF128, true),
}
