package echo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
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
// either fails its typed parser or round-trips byte-exactly. ReadFrame agrees with ParseFrame
// on the same bytes arriving in reads of any size, and a frame's body stretched past a few
// chunks (chunk.go) comes back from ReadFrame byte for byte, with every chunk back in the pool.
func FuzzFrame(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b, 1<<16)
		readFrameAgrees(t, b, fr, err)
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

// splitReader hands out its bytes in reads whose sizes cycle through sizes.
type splitReader struct {
	b     []byte
	sizes []int
	i     int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(s.b), s.sizes[s.i%len(s.sizes)])
	s.i++
	copy(p, s.b[:n])
	s.b = s.b[n:]
	return n, nil
}

// readSizes derives read sizes from the input, so the fuzzer moves where reads end.
func readSizes(b []byte) []int {
	sizes := []int{1 + len(b)%7, 4093, chunkSize - 1, 1, 3 * chunkSize}
	for i, c := range b[:min(len(b), 4)] {
		sizes[i] += int(c) * 31
	}
	return sizes
}

// readFrameAgrees checks ReadFrame on b, in reads of fuzzer-chosen sizes, against ParseFrame's
// verdict (fr, perr), then a stretched copy of the frame that takes the chunked path.
func readFrameAgrees(t *testing.T, b []byte, fr Frame, perr error) {
	t.Helper()
	r := bufio.NewReaderSize(&splitReader{b: b, sizes: readSizes(b)}, 16)
	got, err := ReadFrame(r, 1<<16)
	switch {
	case perr == nil && err != nil:
		t.Fatalf("ParseFrame takes the frame, ReadFrame refuses it: %v", err)
	case perr == nil && (got.Type != fr.Type || !bytes.Equal(got.Body, fr.Body)):
		t.Fatal("ReadFrame's frame differs from ParseFrame's")
	case perr == nil:
		if _, err := ReadFrame(r, 1<<16); err != io.EOF {
			t.Fatalf("after the only frame: %v, want EOF", err)
		}
	case err == nil:
		// ReadFrame stops at the frame's end; ParseFrame refused bytes after it.
		if m := got.Marshal(); len(m) >= len(b) || !bytes.Equal(m, b[:len(m)]) {
			t.Fatal("ReadFrame took a frame that is not a proper prefix of the input")
		}
	case !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF:
		t.Fatalf("ReadFrame refused without ErrMalformed or EOF: %v", err)
	}
	if chunksOut.Load() != 0 {
		t.Fatal("chunks not given back to the pool")
	}
	if perr != nil || len(fr.Body) == 0 {
		return
	}
	// The body repeated past the chunk size, to a length the input picks; then cut short.
	n := chunkSize + 1 + (len(b)*977+int(b[len(b)-1]))%(3*chunkSize)
	body := bytes.Repeat(fr.Body, n/len(fr.Body)+1)[:n]
	big := AppendFrame(nil, fr.Type, body)
	for _, cut := range []int{len(big), len(big) - 1 - len(b)%n} {
		r := bufio.NewReaderSize(&splitReader{b: big[:cut], sizes: readSizes(b)}, 4<<10)
		got, err := ReadFrame(r, 1<<22)
		if cut == len(big) && (err != nil || got.Type != fr.Type || !bytes.Equal(got.Body, body)) {
			t.Fatalf("a stretched body of %d bytes: %v", n, err)
		}
		if cut < len(big) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("a stretched body of %d bytes cut at %d: %v, want unexpected EOF", n, cut, err)
		}
		if chunksOut.Load() != 0 {
			t.Fatal("chunks not given back to the pool")
		}
	}
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
