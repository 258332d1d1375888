package client

import (
	"bytes"
	"testing"
)

// FuzzSessionStart: a session start that parses marshals back to the same bytes (with its
// inner content type and content).
func FuzzSessionStart(f *testing.F) {
	st := &sessionStart{reset: true, id: [16]byte{1}, secret: [32]byte{2}, pub: [32]byte{3}}
	f.Add(append(append(st.marshal(), 1), "hello"...))
	f.Add(append((&sessionStart{}).marshal(), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, typ, content, err := parseSessionContent(b)
		if err != nil {
			return
		}
		out := append(append(st.marshal(), byte(typ)), content...)
		if !bytes.Equal(out, b) {
			t.Fatal("parse then marshal differs")
		}
	})
}
