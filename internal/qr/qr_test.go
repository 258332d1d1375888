package qr

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The code has the structure every reader looks for: finder patterns in three corners,
// timing patterns, the dark module, and a size that matches its version; the renderings
// carry the quiet zone.
func TestEncodeStructure(t *testing.T) {
	last := 0
	for _, n := range []int{1, 14, 60, 100, 140, 213, 400, 1000, maxBytes} {
		c, err := Encode(bytes.Repeat([]byte("a"), n))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if c.Size != 17+4*c.Version || c.Version < 1 || c.Version > 40 || c.Version < last {
			t.Fatalf("%d bytes: size %d for version %d (after version %d)", n, c.Size, c.Version, last)
		}
		last = c.Version
		for _, o := range [][2]int{{0, 0}, {c.Size - 7, 0}, {0, c.Size - 7}} {
			for i := 0; i < 7; i++ {
				if !c.Dark(o[0]+i, o[1]) || !c.Dark(o[0], o[1]+i) || !c.Dark(o[0]+3, o[1]+3) || c.Dark(o[0]+1, o[1]+1+i%5) {
					t.Fatalf("version %d: finder at %v broken", c.Version, o)
				}
			}
		}
		for i := 8; i < c.Size-8; i++ {
			if c.Dark(i, 6) != (i%2 == 0) || c.Dark(6, i) != (i%2 == 0) {
				t.Fatalf("version %d: timing pattern broken at %d", c.Version, i)
			}
		}
		if !c.Dark(8, c.Size-8) {
			t.Fatalf("version %d: dark module missing", c.Version)
		}
		if c.Dark(-1, 0) || c.Dark(0, c.Size) {
			t.Fatalf("version %d: the quiet zone is dark", c.Version)
		}
	}
	if _, err := Encode(make([]byte, maxBytes+1)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("%d bytes: %v", maxBytes+1, err)
	}
	c, _ := Encode([]byte("x"))
	if out := c.Terminal(); strings.Count(out, "\n") != (c.Size+2*quiet+1)/2 {
		t.Fatalf("terminal rendering has %d lines", strings.Count(out, "\n"))
	}
	// The plain rendering is the terminal one without its colour escapes, and has none.
	plain := c.Text()
	if strings.Contains(plain, "\x1b") {
		t.Fatalf("Text() carries ANSI escapes")
	}
	if stripped := strings.NewReplacer("\x1b[30;47m", "", "\x1b[0m", "").Replace(c.Terminal()); stripped != plain {
		t.Fatalf("Text() differs from Terminal() beyond the escapes")
	}
	if pbm := c.PBM(2); !bytes.HasPrefix(pbm, []byte("P1\n58 58\n")) {
		t.Fatalf("PBM header %q", pbm[:12])
	}
}
