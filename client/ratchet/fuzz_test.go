package ratchet

import (
	"bytes"
	"testing"
	"time"
)

// FuzzOpen: any bytes given to Open either open (only the fuzzer's copies of real payloads
// do) or fail, and a failure leaves the session as it was.
func FuzzOpen(f *testing.F) {
	for _, p := range vectorPayloads(f) {
		f.Add(p)
	}
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, s := newPair(t, seeded(21))
		s.Open(mustSeal(t, a, text("hello", t0)), t0)
		before := s.Marshal()
		if _, err := s.Open(b, t0.Add(time.Minute)); err != nil && !bytes.Equal(before, s.Marshal()) {
			t.Fatal("a refused payload changed the state")
		}
	})
}

// FuzzParseBody: a body that parses marshals back to the same bytes.
func FuzzParseBody(f *testing.F) {
	bd := &body{msg: text("hi", t0), chunk: &chunk{epoch: 1, kind: kindEK, index: 2, count: 4, data: make([]byte, ekChunkSize)}}
	b, _ := bd.marshal()
	f.Add(b)
	b, _ = (&body{msg: text("no chunk", t0)}).marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		bd, err := parseBody(b)
		if err != nil {
			return
		}
		out, err := bd.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Fatal("parse then marshal differs")
		}
	})
}

// FuzzUnmarshal: a state that parses marshals back to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	a, b := newPair(f, seeded(22))
	b.Open(mustSeal(f, a, text("x", t0)), t0)
	f.Add(a.Marshal())
	f.Add(b.Marshal())
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Unmarshal(in)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), in) {
			t.Fatal("Unmarshal then Marshal differs")
		}
	})
}
