package memtrim

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The idle trim waits for a quiet spell, repeats while it lasts, starts over after traffic,
// and never runs under traffic. The schedule runs on synctest's fake clock, so the trims
// come at exact instants whatever the machine's load.
func TestIdleTrimSchedule(t *testing.T) {
	t.Parallel()
	it := Idle{Check: 10 * time.Millisecond, Quiet: 60 * time.Millisecond, Again: 100 * time.Millisecond}
	const ms = time.Millisecond
	// run runs the schedule for d of fake time with activity given the time since the start,
	// and returns when each trim ran (since the start).
	run := func(t *testing.T, d time.Duration, activity func(since time.Duration) int64) []time.Duration {
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		it.Run(ctx, func() int64 { return activity(time.Since(start)) }, func() {
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
		})
		if got := time.Since(start); got != d {
			t.Errorf("run returned after %v, want exactly %v (when its context ended)", got, d)
		}
		mu.Lock()
		defer mu.Unlock()
		return at
	}
	for _, c := range []struct {
		name     string
		activity func(since time.Duration) int64
		want     []time.Duration
	}{
		// First trim once quiet has lasted 60 ms, then one every 100 ms.
		{"quiet", func(time.Duration) int64 { return 7 },
			[]time.Duration{60 * ms, 160 * ms, 260 * ms, 360 * ms, 460 * ms, 560 * ms}},
		// Activity seen at the 180 ms check: the quiet spell starts over there, and the next
		// trim comes 60 ms later (not 100 ms after the previous trim).
		{"traffic once", func(s time.Duration) int64 {
			if s >= 180*ms {
				return 8
			}
			return 7
		}, []time.Duration{60 * ms, 160 * ms, 240 * ms, 340 * ms, 440 * ms, 540 * ms}},
		// Traffic until 200 ms: nothing before the first quiet spell of 60 ms.
		{"busy then quiet", func(s time.Duration) int64 { return int64(min(s, 200*ms) / ms) },
			[]time.Duration{260 * ms, 360 * ms, 460 * ms, 560 * ms}},
		// Traffic all along: never.
		{"busy", func(s time.Duration) int64 { return int64(s / ms) }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if got := run(t, 600*ms, c.activity); !slices.Equal(got, c.want) {
					t.Errorf("trims at %v, want at %v", got, c.want)
				}
			})
		})
	}
}
