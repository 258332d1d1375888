package peers

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

// The budget's rules on synctest's clock: a source's own cap makes it wait without a deadline
// until its bytes come back; the budget of all links makes a client wait at most MemoryWait,
// then refuses it with memory_budget, while a neighbour waits on; short frames pass a busy
// budget; the largest frame passes alone; a closed link stops waiting.
func TestMemoryBudgetRules(t *testing.T) {
	const mib = 1 << 20
	synctest.Test(t, func(t *testing.T) {
		b := newMemBudget(9*mib, 4*mib, 10*time.Second)
		never := make(chan struct{})
		must := func(src string, n int64, neighbour bool) {
			t.Helper()
			if err := b.acquire(src, n, neighbour, never); err != nil {
				t.Fatalf("acquire %s %d: %v", src, n, err)
			}
		}
		// The source's cap: a third 2 MiB frame of one address waits, with no deadline, until
		// one of its own is done.
		must("a", 2*mib, false)
		must("a", 2*mib, false)
		got := make(chan error, 1)
		go func() { got <- b.acquire("a", 2*mib, false, never) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("over its own cap, acquire returned %v instead of waiting", err)
		default:
		}
		b.release("a", 2*mib)
		if err := <-got; err != nil {
			t.Fatalf("after a release: %v", err)
		}
		// A short frame of the same address passes its full cap.
		must("a", 1024, false)
		// The budget of all links (9 MiB): b takes 4 MiB more; c's frame waits 10 s, then is
		// refused; a neighbour's waits on.
		must("b", 4*mib, false)
		start := time.Now()
		err := b.acquire("c", mib, false, never)
		var cr *closeReason
		if !errors.As(err, &cr) || cr.name != "memory_budget" || !errors.Is(err, errMemoryBudget) || time.Since(start) != 10*time.Second {
			t.Fatalf("a client over the budget: %v after %v, want memory_budget after 10s", err, time.Since(start))
		}
		go func() { got <- b.acquire("n:x", mib, true, never) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("a neighbour over the budget gave up: %v", err)
		default:
		}
		// Short frames pass the busy budget (up to the slack).
		must("d", 1024, false)
		b.release("b", 4*mib)
		if err := <-got; err != nil {
			t.Fatalf("the neighbour after a release: %v", err)
		}
		// A closed link stops waiting.
		closed := make(chan struct{})
		go func() { got <- b.acquire("a", 4*mib, false, closed) }()
		synctest.Wait()
		close(closed)
		if err := <-got; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("closed while waiting: %v", err)
		}
		if s := b.refused.Load(); s != 1 {
			t.Fatalf("refused %d, want 1", s)
		}
		// What is in use is exactly what was not given back.
		if want := int64(2*mib + 2*mib + 1024 + mib + 1024); b.inUse() != want {
			t.Fatalf("in use %d, want %d", b.inUse(), want)
		}
		// The largest frame passes alone even above a cap.
		big := newMemBudget(mib, mib/2, time.Second)
		if err := big.acquire("z", 3*mib, false, never); err != nil {
			t.Fatalf("a frame above every cap, alone: %v", err)
		}
	})
}

// The review's attack (issue #15): links each send a SUBMIT announced at the largest blob, all
// of it but the last byte, and stay. Before the budget each body was allocated when its header
// arrived (40 links: 80 MiB held); now one address holds at most its cap, the other links of
// that address read nothing meanwhile, and a well-behaved client is still served.
func TestUnfinishedSubmitsBounded(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{MemoryBudget: 16 << 20, MemoryPerSource: 4 << 20}, store.Options{}, echo.Limits{})
	max := tn.relay.Limits().MaxBlob
	body := make([]byte, 4+max)
	frame := echo.AppendFrame(nil, echo.FrameSubmit, body)
	frame = frame[:len(frame)-1]
	const links = 40
	var wg sync.WaitGroup
	for range links {
		rc := rawDial(t, tn, SchemeTLS, nil)
		rc.hello(echo.RoleClient)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc.s.setDeadline(false, time.Now().Add(testutil.Timeout(5*time.Second)))
			rc.s.rw.Write(frame) // blocks once the relay stops reading this link
		}()
	}
	// Wait until the relay holds the address's cap and links wait for it.
	testutil.Eventually(t, testutil.Timeout(30*time.Second), "links waiting for the memory budget", func() bool {
		return tn.Memory().Waits > 0
	})
	m := tn.Memory() // before the probe, whose own bytes come on top
	probe(t, tn)
	if limit := int64(4 << 20); m.Peak > limit {
		t.Fatalf("%d links with unfinished frames: the relay held %d bytes for them (peak), want at most one address's cap %d", links, m.Peak, limit)
	}
	wg.Wait()
}

// Close from another goroutine right after Run started (a test's cleanup, a signal at start)
// must not race Run's start of its goroutines (the race detector saw WaitGroup.Add against
// Wait in a loaded run).
func TestCloseRightAfterRun(t *testing.T) {
	t.Parallel()
	for range 20 {
		st, err := store.Open(t.TempDir()+"/cache.db", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		id, err := LoadOrCreateIdentity(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(Config{Identity: id, Relay: echo.NewRelay(echo.Config{Store: relaystore.New(st)}), Listen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { n.Run(context.Background()); close(done) }()
		n.Close()
		<-done
		st.Close()
	}
}
