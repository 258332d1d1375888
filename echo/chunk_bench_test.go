package echo

import (
	"fmt"
	"testing"
)

// BenchmarkReadFrameLarge decodes BLOB frames of bodies below one chunk (the direct path) and
// above it (pooled chunks, then one copy) from a stream, as a link's reader does with its
// 4 KiB buffer.
func BenchmarkReadFrameLarge(b *testing.B) {
	for _, n := range []int{32 << 10, 256 << 10, DefaultMaxBlob} {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			frame := AppendFrame(nil, FrameBlob, make([]byte, n))
			benchReadFrames(b, frame, 8, 4<<10, func(f Frame) bool { return len(f.Body) == n })
		})
	}
}
