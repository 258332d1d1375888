package seal

import (
	"bytes"
	"errors"
	"strings"
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

// A code that parses encodes back to exactly the text parsed (once spaces and dashes are gone
// and letters upper case): one encoding per invite. Seeds: the vectors' good and bad codes.
func FuzzInviteCode(f *testing.F) {
	vf := loadInviteVectors(f)
	for _, c := range vf.Codes {
		f.Add(c.Code)
	}
	for _, c := range vf.BadCodes {
		f.Add(c.Code)
	}
	f.Add("AEBC6UE72XRZQ36G2TSY7KU3P67A4MJSG4XDALRQFYYTUNZZGAYWBUNPGI") // printed by version 1
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := ParseInviteCode(s)
		if err != nil {
			if !errors.Is(err, ErrInviteCode) {
				t.Fatalf("error without ErrInviteCode: %v", err)
			}
			return
		}
		norm := strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\n", "", "\r", "", "\t", "").Replace(s))
		if inv.Code() != norm {
			t.Fatalf("%q parses but encodes as %q", norm, inv.Code())
		}
		if back, err := ParseInviteCode(inv.Code()); err != nil || back != inv {
			t.Fatalf("re-parse of %q: %v", inv.Code(), err)
		}
	})
}

// fuzzExchange is the vectors' exchange, rebuilt once for the blob fuzzers.
func fuzzExchange(f *testing.F) *builtExchange {
	vf := loadInviteVectors(f)
	return vf.Exchanges[0].build(f)
}

// The blob fuzzers' inputs are plaintexts in which an empty bundle field stands for the genuine
// bundle (an empty bundle never parses). Inputs stay a few kilobytes, and the genuine bundle is
// parsed once: ParseBundle of a McEliece bundle takes about 10 ms, and the fuzzer spends up to
// a minute minimizing each new input, so per input it must cost well under a millisecond.
// Inputs with any other bundle go through the public functions (ParseBundle refuses them early).
func elideBundle(pt []byte, at int, bundle []byte) []byte {
	out := append([]byte(nil), pt[:at]...)
	out = append(out, 0, 0, 0, 0)
	return append(out, pt[at+4+len(bundle):]...)
}

// The fuzzer plays a holder of the code: it chooses the inviter blob's whole plaintext, which
// is sealed under the code. The field parser round-trips byte for byte; opening never panics,
// fails only with ErrInviteBlob, and accepts nothing but Alice's bundle and nick. The raw bytes
// are also tried as a blob.
func FuzzInviterBlob(f *testing.F) {
	x := fuzzExchange(f)
	bundle := x.inviter.Bundle()
	seed := elideBundle(x.ptI, 0, bundle.Bytes())
	fl, err := parseInviterFields(seed)
	if err != nil || len(fl.bundle) != 0 || x.inv.checkInviterBlob(&fl, bundle) != nil {
		f.Fatalf("the genuine plaintext with its bundle elided does not verify: %v", err)
	}
	f.Add(seed)
	f.Add(seed[:5])
	f.Add([]byte{0, 0, 0, 1, 7, 0})
	f.Add(x.blobI[:200])
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, _, err := x.inv.OpenInviterBlob(in); err == nil {
			t.Fatal("fuzzed bytes opened as an inviter blob")
		}
		fl, err := parseInviterFields(in)
		if err != nil {
			return
		}
		if !bytes.Equal(fl.marshal(), in) {
			t.Fatal("inviter fields: parse then marshal differs")
		}
		if len(fl.bundle) != 0 {
			if _, _, err := x.inv.OpenInviterBlob(x.inv.sealBlob(roleInviter, make([]byte, 24), in)); !errors.Is(err, ErrInviteBlob) {
				t.Fatalf("an inviter blob of another bundle: %v", err)
			}
			return
		}
		err = x.inv.checkInviterBlob(&fl, bundle)
		if err != nil && !errors.Is(err, ErrInviteBlob) {
			t.Fatalf("an inviter blob that opens fails without ErrInviteBlob: %v", err)
		}
		if err == nil && fl.nick != x.inviterNick {
			t.Fatalf("accepted another nick %q", fl.nick)
		}
	})
}

// The fuzzer plays a holder of the code writing an answer's plaintext. The field parser
// round-trips; the checks never panic, fail only with ErrInviteAnswer, and accept nothing but
// Bob's signed body (the inviter's: and his key confirmation).
func FuzzAnswer(f *testing.F) {
	x := fuzzExchange(f)
	bundle := x.acceptor.Bundle()
	genuine, err := parseAnswerFields(x.ptA)
	if err != nil {
		f.Fatal(err)
	}
	seed := elideBundle(x.ptA, FingerprintSize, bundle.Bytes())
	fl, err := parseAnswerFields(seed)
	if err != nil || len(fl.bundle) != 0 {
		f.Fatalf("elided seed: %v", err)
	}
	fl.bundle = bundle.Bytes()
	if th, err := x.inv.checkAnswer(&fl, bundle); err != nil {
		f.Fatalf("the genuine plaintext does not verify: %v", err)
	} else if _, err := x.inv.finishAnswer(x.inviter, &fl, bundle, th); err != nil {
		f.Fatalf("the genuine plaintext does not open: %v", err)
	}
	f.Add(seed)
	f.Add(seed[:FingerprintSize+4+4+100])
	f.Add(make([]byte, 32+4+4+1+1+32+sigsSize+confirmSize))
	f.Add(x.blobA[:200])
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := x.inv.PeekAnswer(in); err == nil {
			t.Fatal("fuzzed bytes opened as an answer")
		}
		fl, err := parseAnswerFields(in)
		if err != nil {
			return
		}
		if !bytes.Equal(fl.marshal(), in) {
			t.Fatal("answer fields: parse then marshal differs")
		}
		if len(fl.bundle) != 0 {
			if _, err := x.inv.PeekAnswer(x.inv.sealBlob(roleAcceptor, make([]byte, 24), in)); !errors.Is(err, ErrInviteAnswer) {
				t.Fatalf("an answer of another bundle: %v", err)
			}
			return
		}
		fl.bundle = bundle.Bytes()
		th, err := x.inv.checkAnswer(&fl, bundle)
		if err != nil {
			if !errors.Is(err, ErrInviteAnswer) {
				t.Fatalf("an answer that opens fails without ErrInviteAnswer: %v", err)
			}
			return
		}
		if !bytes.Equal(fl.body(), genuine.body()) {
			t.Fatal("the signatures accepted another body")
		}
		ans, err := x.inv.finishAnswer(x.inviter, &fl, bundle, th)
		if err != nil && !errors.Is(err, ErrInviteAnswer) {
			t.Fatalf("an answer that verifies fails to open without ErrInviteAnswer: %v", err)
		}
		if err == nil && (fl.confirm != genuine.confirm || !bytes.Equal(ans.Pair, x.pair)) {
			t.Fatal("OpenAnswer accepted another confirmation")
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
