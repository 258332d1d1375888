package qr

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The "HELLO WORLD" 1-M example worked through in the QR literature (thonky.com's tutorial,
// following ISO/IEC 18004): its 16 data codewords and the 10 EC codewords the standard gives.
func TestReedSolomonKnownVector(t *testing.T) {
	data := []byte{32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17}
	want := []byte{196, 35, 39, 119, 235, 215, 231, 226, 93, 23}
	if got := rsEncode(data, 10); !bytes.Equal(got, want) {
		t.Fatalf("EC codewords %v, want %v", got, want)
	}
	// ISO/IEC 18004 annex I: "01234567" at 1-M.
	data = []byte{0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11}
	want = []byte{0xA5, 0x24, 0xD4, 0xC1, 0xED, 0x36, 0xC7, 0x87, 0x2C, 0x55}
	if got := rsEncode(data, 10); !bytes.Equal(got, want) {
		t.Fatalf("annex I EC codewords %x, want %x", got, want)
	}
}

// Format information for level M, masks 0..7 (ISO/IEC 18004 annex C table C.1).
func TestFormatBits(t *testing.T) {
	want := []string{"101010000010010", "101000100100101", "101111001111100", "101101101001011",
		"100010111111001", "100000011001110", "100111110010111", "100101010100000"}
	for mask, w := range want {
		if got := fmt.Sprintf("%015b", formatBits(mask)); got != w {
			t.Errorf("mask %d: %s, want %s", mask, got, w)
		}
	}
}

// Version information (annex D table D.1).
func TestVersionBits(t *testing.T) {
	for v, w := range map[int]uint32{7: 0x07C94, 8: 0x085BC, 9: 0x09A99, 10: 0x0A4D3} {
		if got := versionBits(v); got != w {
			t.Errorf("version %d: %05X, want %05X", v, got, w)
		}
	}
}

// Byte-mode data codewords of a short string follow the layout: mode 0100, 8-bit count, the
// bytes, terminator, pad bytes EC 11.
func TestDataCodewords(t *testing.T) {
	got := dataCodewords(1, 8, []byte("hi"))
	want := []byte{0x40, 0x26, 0x86, 0x90, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11}
	if !bytes.Equal(got, want) {
		t.Fatalf("codewords %x, want %x", got, want)
	}
}

func TestEncodeStructure(t *testing.T) {
	for _, n := range []int{1, 14, 60, 100, 140, 213} {
		c, err := Encode(bytes.Repeat([]byte("A"), n))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if c.Size != 17+4*c.Version {
			t.Fatalf("size %d for version %d", c.Size, c.Version)
		}
		// Finder patterns in three corners, timing patterns, dark module.
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
			t.Fatal("dark module missing")
		}
		// Both copies of the format information agree and decode to level M and the mask.
		var f1, f2 uint32
		f1Pos := [][2]int{{8, 0}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 7}, {8, 8}, {7, 8}, {5, 8}, {4, 8}, {3, 8}, {2, 8}, {1, 8}, {0, 8}}
		for i, p := range f1Pos {
			if c.Dark(p[0], p[1]) {
				f1 |= 1 << uint(i)
			}
		}
		for i := 0; i < 8; i++ {
			if c.Dark(c.Size-1-i, 8) {
				f2 |= 1 << uint(i)
			}
		}
		for i := 8; i < 15; i++ {
			if c.Dark(8, c.Size-15+i) {
				f2 |= 1 << uint(i)
			}
		}
		if f1 != f2 || f1 != formatBits(c.Mask) {
			t.Fatalf("version %d: format bits %015b / %015b, want %015b", c.Version, f1, f2, formatBits(c.Mask))
		}
	}
	if _, err := Encode(make([]byte, 214)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("214 bytes: %v", err)
	}
	c, _ := Encode([]byte("x"))
	if out := c.Terminal(); strings.Count(out, "\n") != (c.Size+8+1)/2 {
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
}
