package echo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"testing/synctest"
)

// These tests read chunksOut, which every chunked read in the process moves: none of them is
// parallel (parallel tests wait until the sequential ones are done).

// patterned is n bytes that differ from chunk to chunk and within one, so a chunk copied to
// the wrong place or twice shows.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/chunkSize*13 + i>>9)
	}
	return b
}

func wantNoChunksOut(t *testing.T) {
	t.Helper()
	if n := chunksOut.Load(); n != 0 {
		t.Fatalf("%d chunks not given back to the pool", n)
	}
}

// Bodies on both sides of every chunk boundary, up to the largest default frame and beyond
// (a relay may allow larger blobs), come out byte for byte and leave the stream at the next frame, whatever sizes the reads come in.
func TestReadBodyExact(t *testing.T) {
	sizes := []int{1, 100, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize, 2*chunkSize + 1,
		5*chunkSize + 12345, DefaultMaxBlob + MaxFrameExtra - 1, 40*chunkSize + 5}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data-err": iotest.DataErrReader,
	}
	next := PingFrame(42)
	for _, n := range sizes {
		body := patterned(n)
		stream := append(AppendFrame(nil, FrameBlob, body), next.Marshal()...)
		for name, wrap := range readers {
			r := bufio.NewReaderSize(wrap(bytes.NewReader(stream)), 4<<10)
			f, err := ReadFrame(r, 1<<22)
			if err != nil {
				t.Fatalf("%d bytes, %s reads: %v", n, name, err)
			}
			if f.Type != FrameBlob || !bytes.Equal(f.Body, body) || len(f.Body) != cap(f.Body) {
				t.Fatalf("%d bytes, %s reads: body differs (len %d cap %d)", n, name, len(f.Body), cap(f.Body))
			}
			g, err := ReadFrame(r, 1<<22)
			if err != nil || g.Type != FramePing || !bytes.Equal(g.Body, next.Body) {
				t.Fatalf("%d bytes, %s reads: the frame after it: %v %+v", n, name, err, g)
			}
			if _, err := ReadFrame(r, 1<<22); err != io.EOF {
				t.Fatalf("%d bytes, %s reads: after the last frame: %v, want EOF", n, name, err)
			}
			wantNoChunksOut(t)
		}
	}
}

// A stream that ends anywhere inside a chunked body, at a chunk's edge or within one, is an
// unexpected EOF, and every chunk taken for it is back in the pool.
func TestReadBodyTruncated(t *testing.T) {
	n := 3*chunkSize + 100
	frame := AppendFrame(nil, FrameSubmit, patterned(n))
	for _, got := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 2*chunkSize + 7, 3 * chunkSize, n - 1} {
		r := bufio.NewReader(bytes.NewReader(frame[:5+got]))
		if _, err := ReadFrame(r, 1<<22); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("stream ending after %d of %d body bytes: %v, want unexpected EOF", got, n, err)
		}
		wantNoChunksOut(t)
	}
}

type failAfter struct {
	r   io.Reader
	n   int // bytes left before the error
	err error
}

func (f *failAfter) Read(b []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k, err := f.r.Read(b[:min(len(b), f.n)])
	f.n -= k
	return k, err
}

// A read error inside a chunked body (a deadline, a reset) is returned as it is, and every
// chunk goes back to the pool.
func TestReadBodyErrorReturnsChunks(t *testing.T) {
	boom := errors.New("connection reset")
	n := 4 * chunkSize
	frame := AppendFrame(nil, FrameSubmit, patterned(n))
	for _, at := range []int{5, 6, 5 + chunkSize, 5 + 3*chunkSize + 1, len(frame) - 1} {
		r := bufio.NewReaderSize(&failAfter{r: bytes.NewReader(frame), n: at, err: boom}, 4<<10)
		if _, err := ReadFrame(r, 1<<22); !errors.Is(err, boom) {
			t.Fatalf("error after %d bytes: %v, want %v", at, err, boom)
		}
		wantNoChunksOut(t)
	}
}

// An unfinished frame holds a chunk only for bytes that arrived: none for a bare header, one
// for its first byte, a second only once the first is full; the tail is no chunk at all.
// Closing the stream mid-frame gives them all back.
func TestUnfinishedFrameTakesChunksAsBytesArrive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 2*chunkSize + 10
		body := patterned(n)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := ReadFrame(bufio.NewReaderSize(pr, 4<<10), 1<<22)
			done <- err
		}()
		send := func(b []byte) {
			t.Helper()
			if _, err := pw.Write(b); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		want := func(chunks int64) {
			t.Helper()
			if got := chunksOut.Load(); got != chunks {
				t.Fatalf("%d chunks out, want %d", got, chunks)
			}
		}
		frame := AppendFrame(nil, FrameSubmit, body)
		send(frame[:5])
		want(0)
		send(frame[5:6])
		want(1)
		send(frame[6 : 5+chunkSize])
		want(1)
		send(frame[5+chunkSize : 6+chunkSize])
		want(2)
		send(frame[6+chunkSize : len(frame)-1])
		want(2)
		boom := errors.New("gone")
		pw.CloseWithError(boom)
		if err := <-done; !errors.Is(err, boom) {
			t.Fatalf("closed mid-frame: %v", err)
		}
		want(0)
	})
}
