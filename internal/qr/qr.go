// Package qr renders short strings as QR codes (ISO/IEC 18004) for a terminal, a file or a
// web page, so that an invite code or link can be scanned by a phone. The encoding itself is
// github.com/boombuler/barcode's (error correction level M, 15 % recovery; the smallest
// version that fits, up to 40; the mask with the lowest penalty); this package adds the quiet
// zone and the renderings: half-block text with or without ANSI colours, and plain PBM.
//
// Who calls it: cmd/echorelay's `friend invite` and the web client. It does not decode.
package qr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/boombuler/barcode"
	bqr "github.com/boombuler/barcode/qr"
)

// ErrTooLong: the data does not fit in the largest QR code (version 40) at level M.
var ErrTooLong = errors.New("too long for a QR code")

// maxBytes is what a version 40 code holds at level M in byte mode (ISO/IEC 18004 table 7).
const maxBytes = 2331

// Code is an encoded QR code: Size×Size modules.
type Code struct {
	Version int // 1..40; Size = 17 + 4×Version
	Size    int
	bc      barcode.Barcode
	dark    func(x, y int) bool
}

// Encode makes the smallest level-M code holding data.
func Encode(data []byte) (*Code, error) {
	if len(data) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, len(data), maxBytes)
	}
	bc, err := bqr.Encode(string(data), bqr.M, bqr.Auto)
	if err != nil {
		return nil, fmt.Errorf("failed to encode QR code: %w", err)
	}
	size := bc.Bounds().Dx()
	c := &Code{Version: (size - 17) / 4, Size: size, bc: bc}
	if g, ok := bc.(interface{ Get(x, y int) bool }); ok {
		c.dark = g.Get
	} else {
		c.dark = func(x, y int) bool { r, _, _, _ := bc.At(x, y).RGBA(); return r < 0x8000 }
	}
	return c, nil
}

// Dark reports whether module (x, y) is dark; outside the code (the quiet zone) is light.
func (c *Code) Dark(x, y int) bool {
	return x >= 0 && y >= 0 && x < c.Size && y < c.Size && c.dark(x, y)
}

// quiet is the width of the light margin around the code, in modules (the standard's 4).
const quiet = 4

// Terminal renders the code with its quiet zone, two module rows per text line using half
// blocks, black on white forced with ANSI colours so that it scans on dark terminals too.
func (c *Code) Terminal() string { return c.text(true) }

// Text is Terminal without the ANSI colours, for a file or a pipe: the blocks are the dark
// modules, so it scans where it is shown dark on light (an editor, a printout).
func (c *Code) Text() string { return c.text(false) }

func (c *Code) text(ansi bool) string {
	var b strings.Builder
	for y := -quiet; y < c.Size+quiet; y += 2 {
		if ansi {
			b.WriteString("\x1b[30;47m")
		}
		for x := -quiet; x < c.Size+quiet; x++ {
			switch top, bot := c.Dark(x, y), c.Dark(x, y+1); {
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

// PBM renders the code as a plain PBM image (P1) with its quiet zone and scale pixels per
// module.
func (c *Code) PBM(scale int) []byte {
	w := (c.Size + 2*quiet) * scale
	var b strings.Builder
	fmt.Fprintf(&b, "P1\n%d %d\n", w, w)
	for py := 0; py < w; py++ {
		for px := 0; px < w; px++ {
			if c.Dark(px/scale-quiet, py/scale-quiet) {
				b.WriteString("1")
			} else {
				b.WriteString("0")
			}
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}
