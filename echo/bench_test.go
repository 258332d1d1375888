package echo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

// Micro-benchmarks of the per-blob work a relay does outside the store. Run them with
//
//	go test -run '^$' -bench . -benchmem ./echo/

const benchPayload = 1024 - envFixedLen // a 1 KiB envelope

func BenchmarkParseEnvelope(b *testing.B) {
	env := sampleEnvelope(b, 0, benchPayload)
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEnvelope(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalEnvelope(b *testing.B) {
	e, _ := ParseEnvelope(sampleEnvelope(b, 0, benchPayload))
	b.SetBytes(int64(e.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlobID is the SHA-256 every accepted envelope costs.
func BenchmarkBlobID(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			env := sampleEnvelope(b, 0, size-envFixedLen)
			b.SetBytes(int64(len(env)))
			b.ReportAllocs()
			for b.Loop() {
				_ = BlobID(env)
			}
		})
	}
}

// BenchmarkCheck is the validation of PROTOCOL.md section 2 (parse, size, expiry).
func BenchmarkCheck(b *testing.B) {
	env := sampleEnvelope(b, 0, benchPayload)
	l := DefaultLimits()
	now := time.Unix(1_900_000_000-3600, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Check(env, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadFrame decodes SUBMIT frames of 1 KiB envelopes from a buffered stream, as a
// link's reader does.
func BenchmarkReadFrame(b *testing.B) {
	env := sampleEnvelope(b, 0, benchPayload)
	frame := Submit{Req: 7, Envelope: env}.Frame().Marshal()
	benchReadFrames(b, frame, 256, 32<<10, func(f Frame) bool {
		_, err := ParseSubmit(f.Body)
		return f.Type == FrameSubmit && err == nil
	})
}

// benchReadFrames reads frame from a stream of copies of it through a bufio.Reader of bufSize
// bytes, as a link's reader does, starting the stream again at its end; ok checks each frame.
func benchReadFrames(b *testing.B, frame []byte, copies, bufSize int, ok func(Frame) bool) {
	stream := bytes.Repeat(frame, copies)
	src := bytes.NewReader(stream)
	r := bufio.NewReaderSize(src, bufSize)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := ReadFrame(r, DefaultMaxBlob+MaxFrameExtra)
		if err == io.EOF {
			src.Reset(stream)
			r.Reset(src)
			f, err = ReadFrame(r, DefaultMaxBlob+MaxFrameExtra)
		}
		if err != nil || !ok(f) {
			b.Fatal(err)
		}
	}
}

// BenchmarkAckFrame encodes the answer to every SUBMIT.
func BenchmarkAckFrame(b *testing.B) {
	a := Ack{Req: 9, ID: BlobID([]byte("x")), Status: AckStored}
	b.ReportAllocs()
	for b.Loop() {
		f := a.Frame()
		if len(f.Body) != 37 {
			b.Fatal("ack body")
		}
	}
}

// countingLink is a neighbour link whose queue takes everything (the link's own cost is
// peers' business; this measures the flood rule's).
type countingLink struct {
	name string
	n    int
}

func (c *countingLink) Neighbour() string      { return c.name }
func (c *countingLink) Source() string         { return "n:" + c.name }
func (c *countingLink) SendBlob(_ []byte) bool { c.n++; return true }
func (c *countingLink) Kind() LinkKind         { return LinkRelay }

// committedStore answers every insert as new and committed, at once: the benchmark measures
// Accept and the flood fan-out, not SQLite (store's own benchmarks do that).
type committedStore struct{}

func (committedStore) Insert(_, _ [32]byte, _ [8]byte, _ int64, _ []byte, done func(bool, error)) {
	done(true, nil)
}

func (committedStore) Scan([][32]byte, uint64, int, int, func(uint64, []byte)) (uint64, bool, error) {
	return 0, false, nil
}

// BenchmarkAcceptFlood is Relay.Accept of a new 1 KiB blob from one neighbour: validation,
// ID, store callback, and the flood to every other neighbour.
func BenchmarkAcceptFlood(b *testing.B) {
	for _, k := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("neighbours=%d", k), func(b *testing.B) {
			now := time.Unix(1_900_000_000-3600, 0)
			r := NewRelay(Config{Store: committedStore{}, Now: func() time.Time { return now }})
			var links []*countingLink
			var owner linkList
			for i := 0; i <= k; i++ {
				l := &countingLink{name: fmt.Sprintf("n%d", i)}
				links = append(links, l)
				owner = append(owner, l)
			}
			r.SetNeighbours(owner)
			env := sampleEnvelope(b, 0, benchPayload)
			b.SetBytes(int64(len(env)))
			b.ReportAllocs()
			for b.Loop() {
				r.Accept(env, links[0], func(ID, bool, error) {})
			}
			b.StopTimer()
			if links[0].n != 0 || links[k].n != b.N {
				b.Fatalf("origin got %d floods, another neighbour %d of %d", links[0].n, links[k].n, b.N)
			}
		})
	}
}
