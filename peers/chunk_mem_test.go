package peers

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// Issue #15's unfinished-submit attack through a real relay, with a budget large enough to
// admit every frame: links each announce the largest SUBMIT and send 1000 bytes of it. The
// budget charges what they announce (that is its job), but the relay's heap must hold what
// arrived: before frame bodies were read in pooled chunks, 24 such links held 48 MiB of heap
// (one allocation of the announced length each), now a chunk each. Heap is measured in-process
// after a GC, with a generous bound; never time. Not parallel: other tests' heap would count.
func TestUnfinishedSubmitsHoldWhatArrived(t *testing.T) {
	const links, sent = 24, 1000
	tn := startTestNode(t, Config{MemoryBudget: 256 << 20, MemoryPerSource: 256 << 20}, store.Options{}, echo.Limits{})
	max := tn.relay.Limits().MaxFrame()
	head := binary.BigEndian.AppendUint32(nil, uint32(max)) // the largest frame, never finished
	head = append(head, byte(echo.FrameSubmit))
	head = append(head, make([]byte, sent)...)
	conns := make([]*rawConn, links)
	for i := range conns {
		rc := rawDial(t, tn, SchemeTLS, nil)
		t.Cleanup(rc.close)
		rc.hello(echo.RoleClient)
		rc.writeFrame(echo.PingFrame(uint64(i)))
		rc.s.setDeadline(true, time.Now().Add(testutil.Timeout(10*time.Second)))
		for {
			f, err := echo.ReadFrame(rc.r, 1<<20)
			if err != nil {
				t.Fatalf("link %d before the attack: %v", i, err)
			}
			if f.Type == echo.FramePong {
				break
			}
		}
		conns[i] = rc
	}
	before := heapAlloc() // every link admitted and idle
	for _, rc := range conns {
		rc.write(head)
	}
	want := int64(links * (max + 4))
	testutil.Eventually(t, testutil.Timeout(30*time.Second), "every unfinished frame charged", func() bool {
		return tn.Memory().InUse >= want
	})
	held := heapAlloc() - before
	if limit := int64(links*(128<<10) + 4<<20); held > limit {
		t.Fatalf("%d links each 1000 bytes into a frame of %d: the relay's heap grew by %d bytes, want at most %d", links, max, held, limit)
	}
	t.Logf("%d unfinished frames charged %d KiB, hold %d KiB of heap", links, tn.Memory().InUse>>10, held>>10)
	probe(t, tn) // and the relay still serves others
}

func heapAlloc() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
