// Package qr encodes short byte strings as QR codes (ISO/IEC 18004) for printing on a
// terminal, so that an invite code can be scanned by a phone. It is deliberately small: byte
// mode only, error correction level M (15% recovery), versions 1 to 10 (up to 213 bytes), and
// the mask with the lowest penalty score of the standard's four rules.
//
// Who calls it: cmd/echorelay's `friend invite`. It does not decode.
package qr

import (
	"errors"
	"fmt"
	"strings"
)

// ErrTooLong: the data does not fit in a version 10 code at level M.
var ErrTooLong = errors.New("too long for a QR code of version 10")

// Code is an encoded QR code: Size×Size modules, true = dark.
type Code struct {
	Version int
	Size    int
	Mask    int
	mods    [][]bool
	fn      [][]bool // function modules (not data)
}

// Dark reports whether module (x, y) is dark; outside the code (the quiet zone) is light.
func (c *Code) Dark(x, y int) bool {
	if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
		return false
	}
	return c.mods[y][x]
}

// Level M block structure per version: EC codewords per block, then (blocks, data codewords)
// for group 1 and group 2 (ISO/IEC 18004:2015 table 9).
var levelM = [11]struct{ ec, b1, d1, b2, d2 int }{
	1: {10, 1, 16, 0, 0}, 2: {16, 1, 28, 0, 0}, 3: {26, 1, 44, 0, 0}, 4: {18, 2, 32, 0, 0},
	5: {24, 2, 43, 0, 0}, 6: {16, 4, 27, 0, 0}, 7: {18, 4, 31, 0, 0}, 8: {22, 2, 38, 2, 39},
	9: {22, 3, 36, 2, 37}, 10: {26, 4, 43, 1, 44},
}

// alignment pattern centre coordinates per version (table E.1).
var alignment = [11][]int{
	2: {6, 18}, 3: {6, 22}, 4: {6, 26}, 5: {6, 30}, 6: {6, 34}, 7: {6, 22, 38}, 8: {6, 24, 42},
	9: {6, 26, 46}, 10: {6, 28, 50},
}

const levelMBits = 0 // the two format bits of level M

func dataCapacity(v int) int {
	m := levelM[v]
	return m.b1*m.d1 + m.b2*m.d2
}

// Encode makes the smallest level-M code holding data in byte mode.
func Encode(data []byte) (*Code, error) {
	for v := 1; v <= 10; v++ {
		countBits := 8
		if v >= 10 {
			countBits = 16
		}
		if 4+countBits+8*len(data) <= 8*dataCapacity(v) {
			return encode(v, countBits, data), nil
		}
	}
	return nil, fmt.Errorf("%w: %d bytes", ErrTooLong, len(data))
}

// bitBuf appends bits most significant first.
type bitBuf struct {
	b []byte
	n int
}

func (w *bitBuf) put(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[w.n/8] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

// dataCodewords builds mode indicator, count, data, terminator and pad codewords.
func dataCodewords(v, countBits int, data []byte) []byte {
	capBytes := dataCapacity(v)
	var w bitBuf
	w.put(0b0100, 4) // byte mode
	w.put(uint32(len(data)), countBits)
	for _, c := range data {
		w.put(uint32(c), 8)
	}
	w.put(0, min(4, 8*capBytes-w.n)) // terminator
	for w.n%8 != 0 {
		w.put(0, 1)
	}
	for i := 0; len(w.b) < capBytes; i++ {
		w.b = append(w.b, []byte{0xEC, 0x11}[i%2])
	}
	return w.b
}

// interleave splits data into blocks, adds Reed-Solomon EC to each and interleaves them.
func interleave(v int, data []byte) []byte {
	m := levelM[v]
	var blocks, ecs [][]byte
	off := 0
	for i := 0; i < m.b1+m.b2; i++ {
		n := m.d1
		if i >= m.b1 {
			n = m.d2
		}
		blk := data[off : off+n]
		off += n
		blocks = append(blocks, blk)
		ecs = append(ecs, rsEncode(blk, m.ec))
	}
	var out []byte
	for i := 0; i < max(m.d1, m.d2); i++ {
		for _, b := range blocks {
			if i < len(b) {
				out = append(out, b[i])
			}
		}
	}
	for i := 0; i < m.ec; i++ {
		for _, e := range ecs {
			out = append(out, e[i])
		}
	}
	return out
}

func encode(v, countBits int, data []byte) *Code {
	cw := interleave(v, dataCodewords(v, countBits, data))
	best, bestScore := (*Code)(nil), -1
	for mask := 0; mask < 8; mask++ {
		c := newCode(v)
		c.Mask = mask
		c.placeData(cw, mask)
		c.drawFormat(mask)
		if s := c.penalty(); best == nil || s < bestScore {
			best, bestScore = c, s
		}
	}
	return best
}

func newCode(v int) *Code {
	n := 17 + 4*v
	c := &Code{Version: v, Size: n, mods: make([][]bool, n), fn: make([][]bool, n)}
	for i := range c.mods {
		c.mods[i], c.fn[i] = make([]bool, n), make([]bool, n)
	}
	for _, p := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
		c.finder(p[0], p[1])
	}
	for i := 8; i < n-8; i++ { // timing patterns
		c.set(i, 6, i%2 == 0)
		c.set(6, i, i%2 == 0)
	}
	as := alignment[v]
	for _, y := range as {
		for _, x := range as {
			if (x == 6 && y == 6) || (x == 6 && y == n-7) || (x == n-7 && y == 6) {
				continue // overlaps a finder
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					d := max(abs(dx), abs(dy))
					c.set(x+dx, y+dy, d != 1)
				}
			}
		}
	}
	c.set(8, n-8, true) // the dark module
	c.drawFormat(0)     // reserve the format areas (rewritten per mask)
	if v >= 7 {
		bits := versionBits(v)
		for i := 0; i < 18; i++ {
			d := bits>>uint(i)&1 == 1
			a, b := i/3, n-11+i%3
			c.set(a, b, d)
			c.set(b, a, d)
		}
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (c *Code) set(x, y int, dark bool) {
	c.mods[y][x] = dark
	c.fn[y][x] = true
}

func (c *Code) finder(x0, y0 int) {
	for dy := -1; dy <= 7; dy++ {
		for dx := -1; dx <= 7; dx++ {
			x, y := x0+dx, y0+dy
			if x < 0 || y < 0 || x >= c.Size || y >= c.Size {
				continue
			}
			d := max(abs(dx-3), abs(dy-3))
			c.set(x, y, d != 2 && d != 4) // separator (d = 4) and ring (d = 2) are light
		}
	}
}

// formatBits is the 15-bit format information for level M and a mask: BCH(15,5) with
// generator 0x537, XORed with 0x5412.
func formatBits(mask int) uint32 {
	d := uint32(levelMBits<<3 | mask)
	r := d << 10
	for i := 14; i >= 10; i-- {
		if r>>uint(i)&1 == 1 {
			r ^= 0x537 << uint(i-10)
		}
	}
	return (d<<10 | r) ^ 0x5412
}

// versionBits is the 18-bit version information: BCH(18,6) with generator 0x1F25.
func versionBits(v int) uint32 {
	r := uint32(v) << 12
	for i := 17; i >= 12; i-- {
		if r>>uint(i)&1 == 1 {
			r ^= 0x1F25 << uint(i-12)
		}
	}
	return uint32(v)<<12 | r
}

func (c *Code) drawFormat(mask int) {
	f := formatBits(mask)
	n := c.Size
	bit := func(i int) bool { return f>>uint(i)&1 == 1 }
	// Around the top-left finder: bits 0..7 down column 8 (skipping the timing row), 8..14
	// along row 8 leftwards.
	for i := 0; i <= 5; i++ {
		c.set(8, i, bit(i))
	}
	c.set(8, 7, bit(6))
	c.set(8, 8, bit(7))
	c.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		c.set(14-i, 8, bit(i))
	}
	// The copy: bits 0..7 along row 8 from the right edge, 8..14 up column 8 from the bottom.
	for i := 0; i < 8; i++ {
		c.set(n-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		c.set(8, n-15+i, bit(i))
	}
	c.set(8, n-8, true)
}

func maskBit(mask, x, y int) bool {
	switch mask {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (y/2+x/3)%2 == 0
	case 5:
		return x*y%2+x*y%3 == 0
	case 6:
		return (x*y%2+x*y%3)%2 == 0
	default:
		return ((x+y)%2+x*y%3)%2 == 0
	}
}

// placeData writes the codewords in the standard two-column zigzag from the bottom right,
// skipping the vertical timing column, and applies the mask to data modules.
func (c *Code) placeData(cw []byte, mask int) {
	n := c.Size
	i := 0
	total := 8 * len(cw)
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := 0; vert < n; vert++ {
			for j := 0; j < 2; j++ {
				x := right - j
				upward := (right+1)&2 == 0
				y := vert
				if upward {
					y = n - 1 - vert
				}
				if c.fn[y][x] {
					continue
				}
				dark := false
				if i < total {
					dark = cw[i/8]>>(7-uint(i%8))&1 == 1
					i++
				}
				c.mods[y][x] = dark != maskBit(mask, x, y)
			}
		}
	}
}

// penalty scores the code with the four rules of ISO/IEC 18004 section 7.8.3.
func (c *Code) penalty() int {
	n, score := c.Size, 0
	get := func(x, y int, transpose bool) bool {
		if transpose {
			return c.mods[x][y]
		}
		return c.mods[y][x]
	}
	for _, tr := range []bool{false, true} {
		for y := 0; y < n; y++ {
			run := 1
			for x := 1; x <= n; x++ {
				if x < n && get(x, y, tr) == get(x-1, y, tr) {
					run++
					continue
				}
				if run >= 5 {
					score += 3 + run - 5
				}
				run = 1
			}
			// 1:1:3:1:1 finder-like patterns with four light modules on one side.
			for x := 0; x+11 <= n; x++ {
				p := [11]bool{}
				for k := range p {
					p[k] = get(x+k, y, tr)
				}
				a := p == [11]bool{true, false, true, true, true, false, true, false, false, false, false}
				b := p == [11]bool{false, false, false, false, true, false, true, true, true, false, true}
				if a || b {
					score += 40
				}
			}
		}
	}
	dark := 0
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if c.mods[y][x] {
				dark++
			}
			if x+1 < n && y+1 < n {
				v := c.mods[y][x]
				if c.mods[y][x+1] == v && c.mods[y+1][x] == v && c.mods[y+1][x+1] == v {
					score += 3
				}
			}
		}
	}
	pct := dark * 100 / (n * n)
	score += 10 * (abs(pct-50) / 5)
	return score
}

// Terminal renders the code with a 4-module quiet zone, two module rows per text line using
// half blocks, black on white forced with ANSI colours so that it scans on dark terminals too.
func (c *Code) Terminal() string { return c.text(true) }

// Text is Terminal without the ANSI colours, for a file or a pipe: the blocks are the dark
// modules, so it scans where it is shown dark on light (an editor, a printout).
func (c *Code) Text() string { return c.text(false) }

func (c *Code) text(ansi bool) string {
	var b strings.Builder
	const q = 4
	for y := -q; y < c.Size+q; y += 2 {
		if ansi {
			b.WriteString("\x1b[30;47m")
		}
		for x := -q; x < c.Size+q; x++ {
			top, bot := c.Dark(x, y), c.Dark(x, y+1)
			switch {
			case top && bot:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bot:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		if ansi {
			b.WriteString("\x1b[0m")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// PBM renders the code as a plain PBM image (P1) with a quiet zone and scale pixels per module.
func (c *Code) PBM(scale int) []byte {
	const q = 4
	w := (c.Size + 2*q) * scale
	var b strings.Builder
	fmt.Fprintf(&b, "P1\n%d %d\n", w, w)
	for py := 0; py < w; py++ {
		for px := 0; px < w; px++ {
			if c.Dark(px/scale-q, py/scale-q) {
				b.WriteString("1")
			} else {
				b.WriteString("0")
			}
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}
