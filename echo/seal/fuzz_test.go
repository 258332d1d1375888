package seal

import (
	"bytes"
	"testing"
	"time"

	"github.com/echorelay/echorelay/mceliece/hybrid"
)

// Parsing then marshalling a file chunk is byte-exact; nothing panics.
func FuzzFileChunk(f *testing.F) {
	f.Add((&FileChunk{Count: 2, Index: 1, Size: 3, Name: "a.txt", Data: []byte("abc")}).Marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseFileChunk(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("parse then marshal differs")
		}
	})
}

// A code that parses encodes back to the canonical text of the same invite.
func FuzzInviteCode(f *testing.F) {
	inv, _ := NewInvite("127.0.0.1:7788")
	f.Add(inv.Code())
	f.Add("AEBC6UE72XRZQ36G2TSY7KU3P67A4MJSG4XDALRQFYYTUNZZGAYWBUNPGI")
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := ParseInviteCode(s)
		if err != nil {
			return
		}
		back, err := ParseInviteCode(inv.Code())
		if err != nil || back != inv {
			t.Fatalf("re-parse of %q: %v", inv.Code(), err)
		}
	})
}

// Open never panics and never accepts bytes that were not sealed by a known sender.
func FuzzOpen(f *testing.F) {
	s := hybrid.New("mceliece348864f")
	me, err := GenerateIdentity(s)
	if err != nil {
		f.Fatal(err)
	}
	other, err := GenerateIdentity(s)
	if err != nil {
		f.Fatal(err)
	}
	p, _, _ := Seal(other, me.Bundle(), TypeText, []byte("seed"), time.Unix(1, 0))
	f.Add(p)
	f.Add(p[:100])
	f.Add([]byte{1, 1, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Open(me, b, func(Fingerprint) *Bundle { return other.Bundle() })
		if err == nil && !bytes.Equal(b, p) {
			t.Fatalf("opened fuzzed bytes: %+v", m)
		}
	})
}
