package main

import (
	"context"
	"runtime/debug"
	"time"
)

// Memory on small hardware. The Go runtime collects when the heap has doubled since the last
// collection and hands freed pages back to the kernel slowly (its background scavenger paces
// itself to a sliver of one CPU), so an idle relay would keep the garbage of its start-up, of
// its neighbours' handshakes or of the last burst of traffic resident for minutes. On a Pi
// Zero with 512 MB shared with the rest of the system that is memory nobody uses.
//
// trimWhenIdle gives it back once traffic stops: it looks at activity every idleCheck, and
// when the value has not moved for idleQuiet it runs debug.FreeOSMemory (one collection, then
// every free page returned), once per quiet spell. Under traffic it does nothing, so the
// collector's own pacing is untouched where throughput matters.
const (
	idleCheck = 5 * time.Second
	idleQuiet = 15 * time.Second
)

func trimWhenIdle(ctx context.Context, activity func() int64, trimmed func()) {
	t := time.NewTicker(idleCheck)
	defer t.Stop()
	last, since, done := activity(), time.Now(), false
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if a := activity(); a != last {
				last, since, done = a, now, false
				continue
			}
			if !done && now.Sub(since) >= idleQuiet {
				debug.FreeOSMemory()
				done = true
				if trimmed != nil {
					trimmed()
				}
			}
		}
	}
}
