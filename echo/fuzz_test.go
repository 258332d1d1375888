package echo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Seeds come from testdata/frames/*.bin (written by TestWriteSeedCorpus with -update) and the
// frames built in code.
func seedFrames(f *testing.F) {
	files, _ := filepath.Glob("testdata/frames/*.bin")
	if len(files) == 0 {
		f.Fatal("no seed frames in testdata/frames")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzFrame: any input either fails to parse or parses, re-marshals byte-exactly, and its body
// either fails its typed parser or round-trips byte-exactly.
func FuzzFrame(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("frame refused without ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Equal(fr.Marshal(), b) {
			t.Fatal("frame marshal differs from input")
		}
		switch err := reparse(fr); {
		case errors.Is(err, errNotByteExact):
			t.Fatal(err)
		case err != nil && !errors.Is(err, ErrMalformed):
			t.Fatalf("frame body of type %#x refused without ErrMalformed: %v", fr.Type, err)
		}
	})
}

// FuzzEnvelope: parse then marshal is byte-exact, and the ID is a function of the bytes.
func FuzzEnvelope(f *testing.F) {
	f.Add(sampleEnvelope(f, 0, 0))
	f.Add(sampleEnvelope(f, 32, 100))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("envelope refused without ErrMalformed: %v", err)
			}
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("parsed envelope does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatal("envelope marshal differs from input")
		}
		if BlobID(out) != BlobID(b) {
			t.Fatal("id differs")
		}
	})
}

func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("ECHO_UPDATE_SEEDS") == "" {
		t.Skip("set ECHO_UPDATE_SEEDS=1 to rewrite testdata/frames")
	}
	env := sampleEnvelope(t, 4, 20)
	frames := map[string]Frame{
		"hello":     Hello{Version: 1, Role: RoleClient}.Frame(),
		"blob":      {Type: FrameBlob, Body: env},
		"submit":    Submit{Req: 1, Envelope: env}.Frame(),
		"ack":       Ack{Req: 1, ID: BlobID(env)}.Frame(),
		"error":     ErrorFrame{Req: 1, Err: ErrStoreFull}.Frame(),
		"fetch":     Fetch{Req: 2, After: 5, Limit: 3, Tags: []Tag{{1}}}.Frame(),
		"item":      Item{Req: 2, Seq: 6, Envelope: env}.Frame(),
		"end":       End{Req: 2, Next: 6}.Frame(),
		"subscribe": Subscribe{Req: 3}.Frame(),
		"ping":      PingFrame(1),
	}
	os.MkdirAll("testdata/frames", 0o755)
	for name, fr := range frames {
		if err := os.WriteFile(filepath.Join("testdata/frames", name+".bin"), fr.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
