package peers

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// The flood queue keeps order, refuses beyond its bound, and gives its memory back once
// drained.
func TestFloodQueue(t *testing.T) {
	t.Parallel()
	q := newFloodQueue()
	if _, ok := q.pop(); ok {
		t.Fatal("pop from an empty queue succeeded")
	}
	frame := func(i int) outFrame { return outFrame{body: []byte{byte(i), byte(i >> 8)}} }
	next, popped := 0, 0
	check := func() {
		t.Helper()
		f, ok := q.pop()
		if !ok || !bytes.Equal(f.body, frame(popped).body) {
			t.Fatalf("pop %d: got %v %v, want frame %d", popped, f.body, ok, popped)
		}
		popped++
	}
	// Interleaved pushes and pops, the queue never empty: order holds and the backing array
	// stays bounded by what waits (pushes slide the waiting frames to the front).
	for range 5000 {
		for range 3 {
			if !q.push(frame(next), 100) {
				t.Fatalf("push %d refused with %d waiting", next, q.len())
			}
			next++
		}
		check()
		check()
		if cap(q.items) > 4*100 {
			t.Fatalf("backing array grew to %d for at most 100 waiting frames", cap(q.items))
		}
		for q.len() >= 90 {
			check()
		}
	}
	// The bound: max frames wait, the next is refused.
	for q.len() < 100 {
		if !q.push(frame(next), 100) {
			t.Fatalf("push refused at %d waiting", q.len())
		}
		next++
	}
	if q.push(frame(next), 100) {
		t.Fatal("push beyond the bound accepted")
	}
	if len(q.ready) != 1 {
		t.Fatal("no ready token while frames wait")
	}
	for q.len() > 0 {
		check()
	}
	if popped != next {
		t.Fatalf("popped %d of %d frames", popped, next)
	}
	if q.items != nil || q.head != 0 {
		t.Fatalf("drained queue keeps a backing array of %d", cap(q.items))
	}
}

// A client that asks for pages of big blobs and never reads them: the frames waiting for it
// stay within ClientOutBytes (plus the one frame that may exceed it), and all the relay holds
// for it within its share of the memory budget, instead of OutDepth frames of up to 2 MiB each
// and a page of 8 MiB in hand; the relay keeps serving others meanwhile.
func TestReliableQueueBoundedInBytes(t *testing.T) {
	tn := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(60*time.Second))
	defer cancel()
	c, err := DialClient(ctx, tn.addr(SchemeQUIC))
	if err != nil {
		t.Fatal(err)
	}
	const blob = 1 << 20
	for i := 0; i < 16; i++ {
		if _, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), blob)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()

	rc := rawDial(t, tn, SchemeQUIC, nil)
	rc.hello(echo.RoleClient)
	for req := uint32(1); req <= 12; req++ { // 12 pages of 8 MiB: 96 MiB asked for, none read
		rc.writeFrame(echo.Fetch{Req: req, Limit: 1000}.Frame())
	}
	queued := func() (most int64) {
		tn.mu.Lock()
		defer tn.mu.Unlock()
		for l := range tn.links {
			most = max(most, l.outBytes.Load())
		}
		return most
	}
	// The reader asks for pages until the client's share of the memory budget is used up
	// (budget.go): then it waits, and reads nothing more from this client. Watch until it
	// waits; the queue and what the relay holds for the client stay bounded meanwhile.
	var most int64
	if !testutil.Poll(20*time.Second, func() bool {
		most = max(most, queued())
		return tn.Memory().Waits > 0
	}) {
		t.Fatalf("the relay never waited for the memory budget (%+v): the test did not fill it", tn.Memory())
	}
	most = max(most, queued())
	if most > ClientOutBytes+blob+4096 {
		t.Fatalf("%d bytes queued for a client that reads nothing, want at most %d", most, ClientOutBytes+blob)
	}
	if m := tn.Memory(); m.InUse > DefaultMemoryPerSource+smallSlack || m.Peak > DefaultMemoryPerSource+blob+4096 {
		t.Fatalf("the relay holds %d bytes (peak %d) for one client that reads nothing, want at most its cap %d", m.InUse, m.Peak, DefaultMemoryPerSource)
	}
	probe(t, tn)
}

// FETCH and SUBSCRIBE share a per-address bucket of their own: over it the request is answered
// rate_limited with the time to wait, on any connection from that address, and counted; after
// that time fetching works again. Submissions are not charged to it.
func TestFetchRateLimited(t *testing.T) {
	tn := startTestNode(t, Config{Rates: RateLimits{FetchesPerSec: 1, FetchBurst: 3}}, store.Options{}, echo.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	c := tn.client(t, ctx, SchemeQUIC)
	// The second connection is dialed before the first fetch: the bucket refills at 1/s, so
	// a handshake (slow under load or the race detector) must not fall between the fetches.
	c2 := tn.client(t, ctx, SchemeTLS) // same address, other connection
	// Submissions are not charged to the fetch bucket.
	for i := 0; i < 5; i++ {
		if _, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 10)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if items, _, _, err := c.Fetch(ctx, nil, 0, 0); err != nil || len(items) != 5 {
			t.Fatalf("fetch %d within the burst: %d items, %v", i, len(items), err)
		}
	}
	_, _, _, err := c2.Fetch(ctx, nil, 0, 0)
	var refused *echo.Error
	if !errors.As(err, &refused) || refused.Code != echo.CodeRateLimited || refused.RetryAfter <= 0 || refused.RetryAfter > time.Second+time.Millisecond {
		t.Fatalf("fourth fetch: %v, want rate_limited with a wait in (0, 1s]", err)
	}
	// Not synchronisation: waiting retry_after is the behaviour under test; the bucket refills
	// by the wall clock, so load only makes the wait longer than needed (see
	// TestRateLimitedClient).
	time.Sleep(refused.RetryAfter) // what a client is told to do
	if items, _, _, err := c2.Fetch(ctx, nil, 0, 0); err != nil || len(items) != 5 {
		t.Fatalf("fetch after retry_after: %d items, %v", len(items), err)
	}
	if got := tn.Abuse().FetchLimited; got != 1 {
		t.Fatalf("fetch_limited %d, want 1", got)
	}
	if got := tn.relay.Snapshot().Rejects["rate_limited"]; got != 0 {
		t.Fatalf("a refused fetch counted as a refused blob (%d)", got)
	}
}
