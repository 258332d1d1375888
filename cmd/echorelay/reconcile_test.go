package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
)

// putMany puts n distinct blobs at r and returns their IDs.
func putMany(t *testing.T, r *relayProc, n int, label string) map[echo.ID]bool {
	t.Helper()
	cl := r.client()
	ids := map[echo.ID]bool{}
	for i := 0; i < n; i++ {
		id, _, err := cl.Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, fmt.Appendf(nil, "%s %d", label, i)))
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

// heldIDs fetches every blob a relay serves and fails on a duplicate.
func heldIDs(t *testing.T, r *relayProc) map[echo.ID]bool {
	t.Helper()
	cl := r.client()
	ids := map[echo.ID]bool{}
	var after uint64
	for page := 0; page < 10000; page++ {
		items, next, more, err := cl.Fetch(context.Background(), nil, after, 0)
		if err != nil {
			t.Fatalf("%s: fetch: %v", r.name, err)
		}
		for _, it := range items {
			id := echo.BlobID(it.Envelope)
			if ids[id] {
				t.Fatalf("%s serves blob %s twice", r.name, id.Short())
			}
			ids[id] = true
		}
		if !more {
			return ids
		}
		after = next
	}
	t.Fatalf("%s: fetch did not end", r.name)
	return nil
}

func reconStatus(t *testing.T, r *relayProc) peers.ReconcileStats {
	t.Helper()
	resp, err := http.Get("http://" + r.admin + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Reconcile peers.ReconcileStats `json:"reconcile"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Reconcile
}

func waitBlobs(r *relayProc, n int64) {
	r.t.Helper()
	r.waitFor(fmt.Sprintf("%d cached blobs", n), func(s statusDoc) bool { return s.Cache.Blobs == n })
}

func checkHolds(t *testing.T, r *relayProc, want map[echo.ID]bool) {
	t.Helper()
	got := heldIDs(t, r)
	if len(got) != len(want) {
		t.Fatalf("%s holds %d blobs, want %d", r.name, len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("%s lacks blob %s", r.name, id.Short())
		}
	}
}

// Blobs put at A while C was down reach C once it is back: the link coming up starts a
// reconciliation (the periodic one is 10 minutes away), and C asks B for what it lacks.
func TestChainCatchUpAfterDowntime(t *testing.T) {
	t.Parallel()
	a, b, c := chain(t)
	c.stop()
	b.waitNeighbours(1)
	n := 40
	if testing.Short() {
		n = 10
	}
	ids := putMany(t, a, n, "while C was down")
	waitBlobs(b, int64(n))

	c.start(c.port)
	c.waitNeighbours(1)
	b.waitNeighbours(2)
	waitBlobs(c, int64(n))
	checkHolds(t, c, ids)
	if s := c.status(); s.Stored != int64(n) || s.Duplicates != 0 {
		t.Fatalf("C stored %d blobs with %d duplicates, want %d and 0", s.Stored, s.Duplicates, n)
	}
	if rs := reconStatus(t, c); rs.Wanted+reconStatus(t, b).Wanted < int64(n) || rs.Sessions < 1 {
		t.Fatalf("C's blobs did not come by reconciliation: %+v", rs)
	}
	// A neither lost nor re-received anything.
	if s := a.status(); s.Cache.Blobs != int64(n) || s.Received != int64(n) {
		t.Fatalf("A holds %d blobs, received %d; want %d each", s.Cache.Blobs, s.Received, n)
	}
}

// Two halves that received different blobs while the link between them was cut hold the
// union once it heals.
func TestHealedPartition(t *testing.T) {
	t.Parallel()
	a, b, c := chain(t)
	b.setPeers(a)
	c.setPeers()
	b.waitNeighbours(1)
	c.waitNeighbours(0)
	left := putMany(t, a, 15, "left")
	right := putMany(t, c, 12, "right")
	waitBlobs(b, 15)

	b.setPeers(a, c)
	c.setPeers(b)
	all := map[echo.ID]bool{}
	for id := range left {
		all[id] = true
	}
	for id := range right {
		all[id] = true
	}
	for _, r := range []*relayProc{a, b, c} {
		waitBlobs(r, int64(len(all)))
		checkHolds(t, r, all)
	}
}

func TestReconcileFlagRange(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"-1s", "1ms"} {
		_, errOut, code := runCLI(t, nil, "serve", "--reconcile-every", v)
		if code == 0 || !strings.Contains(errOut, "--reconcile-every") || !strings.Contains(errOut, "\nhint: ") {
			t.Errorf("--reconcile-every %s: exit %d, stderr %q", v, code, errOut)
		}
	}
}

// SIGUSR1 starts a session now (the periodic one is an hour away); the relay with the smaller
// fingerprint initiates, so both get the signal. (The peers package tests Node.Reconcile
// deterministically.)
func TestReconcileOnSignal(t *testing.T) {
	t.Parallel()
	a, b := startRelay(t, "A", "--reconcile-every", "1h"), startRelay(t, "B", "--reconcile-every", "1h")
	a.setPeers(b)
	b.setPeers(a)
	a.waitNeighbours(1)
	b.waitNeighbours(1)
	// Each relay counts the sessions it took part in; a session on a link that closed as the
	// duplicate of the other (both dial) may be counted on one side only, so each relay is
	// compared with its own count.
	waitSessions := func(na, nb int64) {
		t.Helper()
		if !testutil.Poll(20*time.Second, func() bool { return reconStatus(t, a).Sessions >= na && reconStatus(t, b).Sessions >= nb }) {
			t.Fatalf("want %d and %d finished sessions: A %+v, B %+v", na, nb, reconStatus(t, a), reconStatus(t, b))
		}
	}
	waitSessions(1, 1) // the one started by the link coming up
	beforeA, beforeB := reconStatus(t, a).Sessions, reconStatus(t, b).Sessions
	for _, r := range []*relayProc{a, b} {
		r.cmd.Process.Signal(syscall.SIGUSR1)
	}
	waitSessions(beforeA+1, beforeB+1)
	// The other relay's session may finish before this one has logged the signal: wait for the
	// line (bounded) rather than reading the log once.
	for _, r := range []*relayProc{a, b} {
		if !testutil.Poll(10*time.Second, func() bool { return strings.Contains(r.log.String(), "reconciling with neighbours now (SIGUSR1)") }) {
			t.Fatalf("%s did not act on SIGUSR1:\n%s", r.name, r.log.String())
		}
	}
}

// Reconciliation is offered in HELLO unless turned off or max_blob is too small for RECON
// frames.
func TestReconcileFeatureBit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want uint64
	}{
		{nil, echo.FeatureReconcile},
		{[]string{"--reconcile-every", "0"}, 0},
		{[]string{"--max-blob", "8192"}, 0},
	} {
		r := startRelay(t, "R", c.args...)
		if got := r.client().Hello().Features & echo.FeatureReconcile; got != c.want {
			t.Errorf("%v: HELLO features %#x, want %#x", c.args, got, c.want)
		}
		r.stop()
	}
}
