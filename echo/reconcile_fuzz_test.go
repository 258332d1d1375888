package echo

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// reconSeeds are the frames in testdata/recon (written by TestWriteReconSeeds with
// ECHO_UPDATE_SEEDS=1): RECON, WANT and WANT_END frames of a real session.
func reconSeeds(tb testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/recon/*.bin")
	if len(files) == 0 {
		tb.Fatal("no seed frames in testdata/recon")
	}
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// The seeds parse and round-trip (so the fuzzer starts from valid frames).
func TestReconSeedsParse(t *testing.T) {
	for _, b := range reconSeeds(t) {
		fr, err := ParseFrame(b, MaxReconFrame+5)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := reparseRecon(fr); err != nil || !bytes.Equal(out, b) {
			t.Fatalf("seed of type %#x: %v", fr.Type, err)
		}
	}
}

func reparseRecon(fr Frame) ([]byte, error) {
	var g Frame
	switch fr.Type {
	case FrameRecon:
		m, err := ParseRecon(fr.Body)
		if err != nil {
			return nil, err
		}
		g = m.Frame()
	case FrameWant:
		w, err := ParseWant(fr.Body)
		if err != nil {
			return nil, err
		}
		g = w.Frame()
	case FrameWantEnd:
		w, err := ParseWantEnd(fr.Body)
		if err != nil {
			return nil, err
		}
		g = w.Frame()
	default:
		return nil, nil
	}
	return g.Marshal(), nil
}

// FuzzRecon: a reconciliation frame either fails to parse or re-marshals byte-exactly, and a
// parsed RECON fed to a reconciler over a small set gives an error or an answer that parses
// and fits the size limit.
func FuzzRecon(f *testing.F) {
	for _, b := range reconSeeds(f) {
		f.Add(b)
	}
	set := newMemSet(randKeys(rand.New(rand.NewPCG(1, 1)), 300))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b, MaxReconFrame+5)
		if err != nil {
			return
		}
		out, err := reparseRecon(fr)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("frame of type %#x refused without ErrMalformed: %v", fr.Type, err)
			}
			return
		}
		if out == nil {
			return
		}
		if !bytes.Equal(out, b) {
			t.Fatal("parse then marshal is not byte-exact")
		}
		if fr.Type != FrameRecon {
			return
		}
		m, _ := ParseRecon(fr.Body)
		r := NewReconciler(set, m.Session, m.Floor)
		needs := 0
		reply, err := r.Process(m, func(ID) { needs++ }, func() bool { return needs > 500 })
		if err != nil {
			// The set in memory cannot fail: only the message can be wrong.
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("recon refused without ErrMalformed: %v", err)
			}
			return
		}
		body := reply.Frame().Body
		if len(body) > MaxReconFrame {
			t.Fatalf("answer of %d bytes", len(body))
		}
		if _, err := ParseRecon(body); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
	})
}

func TestWriteReconSeeds(t *testing.T) {
	if os.Getenv("ECHO_UPDATE_SEEDS") == "" {
		t.Skip("set ECHO_UPDATE_SEEDS=1 to rewrite testdata/recon")
	}
	rng := rand.New(rand.NewPCG(42, 42))
	keys := randKeys(rng, 400)
	a, b := newMemSet(keys[:300]), newMemSet(keys[100:])
	ra, rb := NewReconciler(a, 1, 1000), NewReconciler(b, 1, 1000)
	m, err := ra.Initiate()
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	var need []ID
	side := []*Reconciler{rb, ra}
	for i := 0; len(m.Ranges) > 0 && i < 20; i++ {
		frames = append(frames, m.Frame().Marshal())
		m, err = side[i%2].Process(m, func(id ID) { need = append(need, id) }, func() bool { return false })
		if err != nil {
			t.Fatal(err)
		}
	}
	frames = append(frames, m.Frame().Marshal())
	frames = append(frames, Want{Req: 1, IDs: need[:min(len(need), MaxWantIDs)]}.Frame().Marshal())
	frames = append(frames, WantEnd{Req: 1, Missing: 3}.Frame().Marshal())
	os.RemoveAll("testdata/recon")
	os.MkdirAll("testdata/recon", 0o755)
	for i, fr := range frames {
		if err := os.WriteFile(filepath.Join("testdata/recon", fmtSeed(i)), fr, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fmtSeed(i int) string { return string(rune('a'+i/10)) + string(rune('0'+i%10)) + ".bin" }
