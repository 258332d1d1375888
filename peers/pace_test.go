package peers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// A neighbour that takes blobs slower than clients submit them: the clients are held back to
// its pace and it receives every blob; nothing is dropped from its queue.
func TestClientsPacedToSlowNeighbour(t *testing.T) {
	blobs := 400
	if testing.Short() {
		blobs = 150
	}
	// A 256 KiB queue holds 16 blobs of 16 KiB: far fewer than the clients have in flight.
	// The neighbour's drain rate is the machine's speed: under emulation, the race detector or
	// a loaded machine (measured: 2 cores at load 20 under -race drain slower than one blob per
	// 50 ms) flooding a 16 KiB blob alone takes milliseconds. So the bar for "slow" here is
	// PaceWait (scaled), far above what this neighbour takes however slow the machine: the test
	// is that clients are held back to a neighbour that is slower than they are yet not slow;
	// TestSlowNeighbourNotWaitedFor covers the default bar.
	// A stall of the reader below (a loaded machine's scheduler) must not read as a stalled
	// neighbour either, nor may the wait for room run out: both scale too.
	tn := startTestNode(t, Config{QueueBytes: 256 << 10, PaceSlow: testutil.Timeout(PaceWait),
		PaceWait: testutil.Timeout(4 * PaceWait), PaceStall: testutil.Timeout(4 * PaceStall)}, store.Options{}, echo.Limits{})
	nb := neighbours(t, tn, 1)[0]
	got := make(chan echo.ID, blobs)
	go func() {
		seen := map[echo.ID]bool{}
		for {
			f, err := echo.ReadFrame(nb.r, 8<<20)
			if err != nil {
				return
			}
			if f.Type == echo.FrameBlob && !seen[echo.BlobID(f.Body)] {
				seen[echo.BlobID(f.Body)] = true
				got <- echo.BlobID(f.Body)
			}
			if len(seen)%2 == 0 {
				// Slower than the clients, yet well above one blob per PaceSlow: at most
				// 2000 blobs of 16 KiB a second. (Not synchronisation: this sleep is the
				// neighbour's pace, the behaviour under test; the node serves only real
				// sockets, so this cannot run in a synctest bubble.)
				time.Sleep(time.Millisecond)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(120*time.Second))
	defer cancel()
	c := tn.client(t, ctx, SchemeQUIC)
	var mu sync.Mutex
	want := map[echo.ID]bool{}
	var wg sync.WaitGroup
	work := make(chan []byte)
	for range 64 { // a pipelining client
		wg.Add(1)
		go func() {
			defer wg.Done()
			for env := range work {
				id, _, err := c.Put(ctx, env)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[id] = true
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < blobs; i++ {
		work <- mkEnv(t, time.Now().Add(time.Hour), 16<<10)
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every blob is acknowledged, so every one of them was either queued or dropped by now.
	if d := tn.relay.Snapshot().QueueDrops; d != 0 {
		t.Fatalf("%d of %d blobs dropped from the slow neighbour's queue", d, blobs)
	}
	for len(want) > 0 {
		select {
		case id := <-got:
			delete(want, id)
		case <-ctx.Done():
			t.Fatalf("the slow neighbour is missing %d of %d blobs; %d queue drops", len(want), blobs, tn.relay.Snapshot().QueueDrops)
		}
	}
}

// A neighbour that takes blobs slower than one per PaceSlow is not waited for: clients keep
// their pace, and the blobs its queue cannot hold are dropped and counted (reconciliation
// repairs them), as for any full queue.
func TestSlowNeighbourNotWaitedFor(t *testing.T) {
	blobs := 800
	if testing.Short() {
		blobs = 500
	}
	tn := startTestNode(t, Config{QueueBytes: 256 << 10}, store.Options{}, echo.Limits{})
	nb := neighbours(t, tn, 1)[0]
	go func() {
		for {
			if _, err := echo.ReadFrame(nb.r, 8<<20); err != nil {
				return
			}
			// The slow neighbour: 50 blobs a second (fewer as testutil.Scale slows the
			// clients down too, so they still outpace it). Not synchronisation but the
			// neighbour's pace under test; load only makes it slower, as it must look.
			time.Sleep(testutil.Timeout(4 * PaceSlow))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(120*time.Second))
	defer cancel()
	c := tn.client(t, ctx, SchemeQUIC)
	var wg sync.WaitGroup
	work := make(chan []byte)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for env := range work {
				if _, _, err := c.Put(ctx, env); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < blobs; i++ {
		work <- mkEnv(t, time.Now().Add(time.Hour), 16<<10)
	}
	close(work)
	wg.Wait()
	// Paced to 50 blobs a second the puts would have left nothing to drop: 800 blobs of 16 KiB
	// are 12.5 MiB, more than the 256 KiB queue and the link's flow-control windows hold.
	if d := tn.relay.Snapshot().QueueDrops; d == 0 {
		t.Fatal("no blob dropped for the slow neighbour: clients were held back to its pace")
	}
}
