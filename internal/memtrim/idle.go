// Package memtrim gives an idle relay's memory back to the system: garbage the runtime keeps
// and the pages of the executable that only start-up touched.
package memtrim

import (
	"context"
	"time"
)

// Memory on small hardware. The Go runtime collects when the heap has doubled since the last
// collection and hands freed pages back to the kernel slowly (its background scavenger paces
// itself to a sliver of one CPU), so an idle relay would keep the garbage of its start-up, of
// its neighbours' handshakes or of the last burst of traffic resident for minutes. On a Pi
// Zero with 512 MB shared with the rest of the system that is memory nobody uses.
//
// The executable is the other half of an idle relay's resident set. The kernel maps a file's
// pages in groups around each one a program touches (fault-around, 64 KiB), so the code and
// tables that ran once at start-up, spread over the whole binary, keep about 12 MB of it mapped
// (nearly all of it) although an idle relay runs a small part. Those pages are clean copies
// of the file: ReleaseBinaryPages (binpages_linux.go) asks the kernel to unmap the executable's
// read-only mappings, the page cache keeps them, and the ones still in use fault back in on
// their next access (about 6 MB with 20 neighbour links). Writable segments are never touched.
//
// Default gives both back once traffic stops: it looks at activity every 5 s, and
// when the value has not moved for 15 s it runs debug.FreeOSMemory (one collection, then every
// free page returned) and ReleaseBinaryPages, then again every minute while the quiet lasts:
// timers, sweeps and keepalives slowly fault more of the binary back in (from 6 to about 10 MB
// over three idle minutes with 20 links). Under traffic it does nothing, so the collector's
// own pacing is untouched where throughput matters.
type Idle struct {
	Check, Quiet, Again time.Duration // look at activity every Check; trim after Quiet without change, then every Again
}

// Default is the relay's schedule.
var Default = Idle{Check: 5 * time.Second, Quiet: 15 * time.Second, Again: time.Minute}

// Run calls trim (debug.FreeOSMemory and ReleaseBinaryPages) as described above until ctx
// ends.
func (it Idle) Run(ctx context.Context, activity func() int64, trim func()) {
	t := time.NewTicker(it.Check)
	defer t.Stop()
	last, since := activity(), time.Now()
	var trimmed time.Time // last trim in this quiet spell; zero: none yet
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if a := activity(); a != last {
				last, since, trimmed = a, now, time.Time{}
				continue
			}
			if now.Sub(since) >= it.Quiet && (trimmed.IsZero() || now.Sub(trimmed) >= it.Again) {
				trim()
				trimmed = now
			}
		}
	}
}
