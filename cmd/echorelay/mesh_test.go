package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
)

// meshEdges is a random connected topology with cycles: a ring (every relay has two
// neighbours, one big cycle) plus extra chords, from a fixed seed.
func meshEdges(n, chords int, seed uint64) [][2]int {
	rng := rand.New(rand.NewPCG(seed, seed))
	has := map[[2]int]bool{}
	var edges [][2]int
	add := func(a, b int) {
		if a > b {
			a, b = b, a
		}
		if a == b || has[[2]int{a, b}] {
			return
		}
		has[[2]int{a, b}] = true
		edges = append(edges, [2]int{a, b})
	}
	for i := 0; i < n; i++ {
		add(i, (i+1)%n)
	}
	for len(edges) < n+chords {
		add(rng.IntN(n), rng.IntN(n))
	}
	return edges
}

// TestMesh: 20 relay processes in a random topology with cycles; 2 000 blobs put at random
// relays in three phases while three relays are down during the middle one and come back;
// after it settles every relay holds every blob exactly once, and no relay received more
// duplicates per blob than it has neighbours. Floods may be dropped (full queues, relays
// down): reconciliation repairs that.
func TestMesh(t *testing.T) {
	t.Parallel()
	n, chords, blobs := 20, 10, 2000
	if testing.Short() {
		n, chords, blobs = 8, 4, 300
	}
	edges := meshEdges(n, chords, 7)
	relays := make([]*relayProc, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := startRelay(t, fmt.Sprintf("R%02d", i), "--reconcile-every", "2s", "--log-level", "info",
				"--rate-submits", "0", "--rate-bytes", "0") // all puts come from 127.0.0.1: per-address limits would throttle the test, not a user
			mu.Lock()
			relays[i] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	nbrs := make([][]*relayProc, n)
	for _, e := range edges {
		nbrs[e[0]] = append(nbrs[e[0]], relays[e[1]])
		nbrs[e[1]] = append(nbrs[e[1]], relays[e[0]])
	}
	for i, r := range relays {
		r.setPeers(nbrs[i]...)
	}
	for i, r := range relays {
		r.waitNeighbours(len(nbrs[i]))
	}

	rng := rand.New(rand.NewPCG(11, 13))
	down := map[int]bool{}
	for len(down) < 3 {
		down[rng.IntN(n)] = true
	}
	// Blobs go to random relays among those that stay up; meanwhile the three others stop
	// (after a third of the puts) and start again (after two thirds).
	var up []int
	for i := range relays {
		if !down[i] {
			up = append(up, i)
		}
	}
	all := map[echo.ID]bool{}
	per := map[int][][]byte{}
	for k := 0; k < blobs; k++ {
		i := up[rng.IntN(len(up))]
		env := mkEnvelope(t, echo.Tag{}, time.Hour, fmt.Appendf(nil, "mesh blob %d", k))
		per[i] = append(per[i], env)
		all[echo.BlobID(env)] = true
	}
	if len(all) != blobs {
		t.Fatalf("%d distinct blobs, want %d", len(all), blobs)
	}
	start := time.Now()
	var putDone atomic.Int64
	errs := make(chan error, len(per))
	var puts sync.WaitGroup
	for i, envs := range per {
		cl := relays[i].client()
		puts.Add(1)
		go func() {
			defer puts.Done()
			for _, env := range envs {
				if _, _, err := cl.Put(context.Background(), env); err != nil {
					errs <- fmt.Errorf("put at %s: %w", relays[i].name, err)
					return
				}
				putDone.Add(1)
			}
		}()
	}
	waitPuts := func(n int64) int64 {
		t.Helper()
		if !testutil.Poll(60*time.Second, func() bool { return putDone.Load() >= n || len(errs) > 0 }) {
			t.Fatalf("only %d of %d puts done", putDone.Load(), n)
		}
		return putDone.Load()
	}
	atStop := waitPuts(int64(blobs / 3))
	for i := range down {
		relays[i].stop()
	}
	atStart := waitPuts(int64(2 * blobs / 3))
	restarted := time.Now()
	for i := range down {
		relays[i].start(relays[i].port)
	}
	puts.Wait()
	lastPut := time.Now()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("restarted relays stopped after %d puts, started again after %d", atStop, atStart)

	// Settle: every relay caches every blob (bounded wait).
	behind := 0
	if !testutil.Poll(60*time.Second, func() bool {
		behind = 0
		for _, r := range relays {
			if r.status().Cache.Blobs < int64(blobs) {
				behind++
			}
		}
		return behind == 0
	}) {
		for _, r := range relays {
			t.Logf("%s: %d blobs, reconcile %+v", r.name, r.status().Cache.Blobs, reconStatus(t, r))
		}
		t.Fatalf("%d of %d relays still lack blobs %s after the last put", behind, n, time.Since(lastPut))
	}
	settled := time.Since(lastPut)
	caughtUp := time.Since(restarted)

	var dupRatios []float64
	var wanted, served int64
	for i, r := range relays {
		checkHolds(t, r, all) // exactly once: no ID twice, none missing, nothing else
		s, rs := r.status(), reconStatus(t, r)
		deg := len(nbrs[i])
		// The counters of a restarted relay cover only its life since the restart.
		ratio := float64(s.Duplicates) / float64(blobs)
		if ratio > float64(deg) {
			t.Errorf("%s (degree %d) received %.2f duplicates per blob", r.name, deg, ratio)
		}
		if s.Cache.Blobs != int64(blobs) {
			t.Errorf("%s caches %d blobs, want %d", r.name, s.Cache.Blobs, blobs)
		}
		dupRatios = append(dupRatios, ratio)
		wanted += rs.Wanted
		served += rs.Served
	}
	sort.Float64s(dupRatios)
	maxDeg := 0
	for _, ns := range nbrs {
		maxDeg = max(maxDeg, len(ns))
	}
	t.Logf("mesh: %d relays, %d links (max degree %d), %d blobs, 3 relays down for a third of them", n, len(edges), maxDeg, blobs)
	t.Logf("puts and restarts took %s; full delivery %s after the last put (%s after the first)",
		lastPut.Sub(start).Round(time.Millisecond), settled.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	t.Logf("the 3 restarted relays held all blobs at most %s after their restart began", caughtUp.Round(time.Millisecond))
	t.Logf("duplicates per blob: min %.2f, median %.2f, max %.2f; reconciliation asked for %d blobs, %d served",
		dupRatios[0], dupRatios[len(dupRatios)/2], dupRatios[len(dupRatios)-1], wanted, served)
}
