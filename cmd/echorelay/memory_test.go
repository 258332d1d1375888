package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The idle trim waits for a quiet spell, repeats while it lasts, and never runs under traffic.
func TestIdleTrimSchedule(t *testing.T) {
	it := idleTrim{check: 10 * time.Millisecond, quiet: 60 * time.Millisecond, again: 100 * time.Millisecond}
	run := func(activity func() int64, d time.Duration) []time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		it.run(ctx, activity, func() {
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
		})
		mu.Lock()
		defer mu.Unlock()
		return at
	}

	quiet := run(func() int64 { return 7 }, 600*time.Millisecond)
	if len(quiet) < 2 {
		t.Fatalf("quiet for 600 ms: trims at %v, want a first one after 60 ms and repeats every 100 ms", quiet)
	}
	if quiet[0] < it.quiet {
		t.Fatalf("first trim after %v, before the %v quiet spell", quiet[0], it.quiet)
	}
	for i := 1; i < len(quiet); i++ {
		if gap := quiet[i] - quiet[i-1]; gap < it.again-it.check {
			t.Fatalf("trims at %v: %v apart, want about %v", quiet, gap, it.again)
		}
	}

	var n atomic.Int64
	busy := run(func() int64 { return n.Add(1) }, 400*time.Millisecond)
	if len(busy) != 0 {
		t.Fatalf("under traffic: trims at %v, want none", busy)
	}
}
