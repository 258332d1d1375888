package echo

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/synctest"
)

// The review's attack (issue #15) at the reader: many streams each announce the largest frame
// and send 1000 bytes of its body. Each must hold memory for what arrived (a chunk), not for
// what was announced: before pooled chunks, 32 such frames held 64 MiB of heap. The bound is
// generous (it counts every reader's bufio buffer and the pipes too); the heap is measured
// in-process after a GC, never by time.
func TestUnfinishedFramesHoldWhatArrived(t *testing.T) {
	const links, sent = 32, 1000
	max := DefaultMaxBlob + MaxFrameExtra
	frame := binary.BigEndian.AppendUint32(nil, uint32(max)) // the header of the largest frame
	frame = append(frame, byte(FrameSubmit))
	frame = append(frame, make([]byte, sent)...)
	synctest.Test(t, func(t *testing.T) {
		before := heapInUse()
		done := make(chan error, links)
		pws := make([]*io.PipeWriter, links)
		for i := range pws {
			pr, pw := io.Pipe()
			pws[i] = pw
			go func() {
				_, err := ReadFrame(bufio.NewReaderSize(pr, 4<<10), max)
				done <- err
			}()
			go pw.Write(frame)
		}
		synctest.Wait() // every reader has what was sent and waits for the rest
		held := heapInUse() - before
		boom := errors.New("gone")
		for _, pw := range pws {
			pw.CloseWithError(boom)
		}
		for range links {
			if err := <-done; !errors.Is(err, boom) {
				t.Errorf("closed mid-frame: %v", err)
			}
		}
		if limit := int64(links*(128<<10) + 1<<20); held > limit {
			t.Fatalf("%d unfinished frames of %d bytes with %d sent hold %d bytes of heap, want at most %d", links, max, sent, held, limit)
		}
		t.Logf("%d unfinished frames hold %d KiB of heap", links, held>>10)
	})
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
