package echo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkReadFrameLarge decodes BLOB frames of bodies below one chunk (the direct path) and
// above it (pooled chunks, then one copy) from a stream, as a link's reader does with its
// 4 KiB buffer.
func BenchmarkReadFrameLarge(b *testing.B) {
	for _, n := range []int{32 << 10, 256 << 10, DefaultMaxBlob} {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			frame := AppendFrame(nil, FrameBlob, make([]byte, n))
			stream := bytes.Repeat(frame, 8)
			src := bytes.NewReader(stream)
			r := bufio.NewReaderSize(src, 4<<10)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				f, err := ReadFrame(r, DefaultMaxBlob+MaxFrameExtra)
				if err == io.EOF {
					src.Reset(stream)
					r.Reset(src)
					f, err = ReadFrame(r, DefaultMaxBlob+MaxFrameExtra)
				}
				if err != nil || len(f.Body) != n {
					b.Fatal(err)
				}
			}
		})
	}
}
