package peers

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Memory budget (issue #15 item 1). A relay has no accounts, so what one client makes it hold
// must be bounded by the relay, not by the client's good manners: a review measured 564 MB for
// 255 links each holding a SUBMIT one byte short of its announced 2 MiB (ReadFrame allocated
// each body when its header arrived), and 1.29 GB for 200 links that asked for everything and
// never read (each link's output queue and the page in hand).
//
// One budget covers, across all links, the bytes of frames being read (charged when the
// header announces them, before anything is allocated, and released when the frame is done
// with: after the store's answer for SUBMIT and BLOB), the frames queued for output (released
// once written), and a fetch page in hand (charged before the store is read, then handed over
// item by item to the output queue). Each is charged as well against a per-source cap: frames
// read to their sender (a client by its address, an IPv6 address by its /64; a neighbour by its
// key), frames sent and pages fetched to their link (linkMem). A link that
// cannot get its bytes waits, reading nothing meanwhile (backpressure through QUIC and TCP flow
// control); a client link still waiting for the budget of all links after MemoryWait is closed
// with reason memory_budget. Neighbour links wait as long as it takes, and so does a link
// waiting for its own source's cap, which its own frames free.
//
// What a frame being read is charged is an upper bound on what it holds: its body arrives in
// pooled chunks taken as bytes arrive (echo/chunk.go), so an unfinished frame holds what was
// sent of it, at most its length. Its one copy, when complete, into the body handed on holds
// both for a moment; copies are serialised, so that moment adds at most one largest frame,
// process-wide, beyond the budget.
//
// Frames of at most smallFrame bytes may go beyond the budget by smallSlack, so a busy budget
// (someone's large frames) does not hold up short messages of everyone else; their own
// per-source cap still applies.
//
// The budget is what a relay's peak RSS of 64 MB leaves after the rest: an idle relay is about
// 15 MB resident (runtime, binary, SQLite's page cache), and 200 links that ask for everything
// and never read add about 15 MB of their own (goroutines, TLS records, write buffers) beside
// what they are charged. At 32 MiB (plus the slack) such links took the relay to 68 MB on a
// quiet machine; 24 MiB plus 4 MiB of slack keeps it under 64 MB (scripts/hostile).
const (
	DefaultMemoryBudget    = 24 << 20 // all links together
	DefaultMemoryPerSource = 4 << 20  // one client address: two of the largest blobs in flight
	DefaultMemoryWait      = 10 * time.Second
	// ClientOutBytes bounds a client link's output queue (OutBytes is a neighbour's): a client
	// that reads slowly holds its fetch back instead of the relay's memory.
	ClientOutBytes = 1 << 20
	// ClientPageBytes is the envelope bytes of one FETCH or subscription page for a client
	// (at least one blob, which may be larger).
	ClientPageBytes = 1 << 20
	smallFrame      = 64 << 10
	smallSlack      = 4 << 20
)

// errMemoryBudget closes a client link that waited MemoryWait for its bytes.
var errMemoryBudget = errors.New("the relay's memory budget for links is used up")

type memBudget struct {
	limit, perSource, neighbourCap int64
	wait                           time.Duration

	mu    sync.Mutex
	used  int64
	by    map[string]int64
	freed chan struct{} // closed and replaced whenever bytes are released

	waits, refused atomic.Int64 // acquires that had to wait; client links closed for it
	peak           atomic.Int64
}

func newMemBudget(limit, perSource int64, wait time.Duration) *memBudget {
	return &memBudget{limit: limit, perSource: perSource, neighbourCap: limit / 2, wait: wait,
		by: map[string]int64{}, freed: make(chan struct{})}
}

// take charges n to source if it fits, called with mu held. global reports, when it does not,
// whether the budget of all links is what is short (else the source's own cap).
func (b *memBudget) take(source string, n int64, neighbour bool) (ok, global bool) {
	cap := b.perSource
	if neighbour {
		cap = b.neighbourCap
	}
	limit := b.limit
	if n <= smallFrame {
		limit += smallSlack
	}
	if n <= smallFrame {
		cap += smallSlack / 8 // short messages of others behind the same address still pass
	}
	held := b.by[source]
	// A frame larger than a cap still goes when nothing else of that kind is held, so the
	// largest blob always passes.
	if held > 0 && held+n > cap {
		return false, false
	}
	if b.used > 0 && b.used+n > limit {
		return false, true
	}
	b.by[source] = held + n
	b.used += n
	if b.used > b.peak.Load() {
		b.peak.Store(b.used)
	}
	return true, false
}

// acquire charges n bytes to source, waiting while they do not fit, until closed is closed
// (net.ErrClosed). A wait for the source's own cap has no deadline: its own frames free it (a
// frame that stalls is closed by the frame deadline, an output write that stalls by
// WriteTimeout). A client (neighbour false) waiting for the budget of all links waits at most
// b.wait (errMemoryBudget): the relay sheds the client rather than everyone's service.
func (b *memBudget) acquire(source string, n int64, neighbour bool, closed <-chan struct{}) error {
	if n <= 0 {
		return nil
	}
	var deadline <-chan time.Time
	counted := false
	for {
		b.mu.Lock()
		ok, global := b.take(source, n, neighbour)
		freed := b.freed
		b.mu.Unlock()
		if ok {
			return nil
		}
		if !counted {
			counted = true
			b.waits.Add(1)
		}
		if global && !neighbour && deadline == nil {
			t := time.NewTimer(b.wait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-freed:
		case <-closed:
			return net.ErrClosed
		case <-deadline:
			b.refused.Add(1)
			return &closeReason{"memory_budget", fmt.Errorf("%w: %d bytes wanted, %d of %d in use", errMemoryBudget, n, b.inUse(), b.limit)}
		}
	}
}

func (b *memBudget) release(source string, n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if left := b.by[source] - n; left > 0 {
		b.by[source] = left
	} else {
		delete(b.by, source)
	}
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

func (b *memBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// linkMem is what one link holds of the budget, in two accounts: frames it reads, charged
// to its source (all links of one client address share that cap, so one address cannot take
// the whole budget by opening many links), and frames it sends or fetches for its peer,
// charged to the link itself (a client that does not read holds up only its own link, not
// the others behind the same NAT). At close the rest goes back at once; later releases (a
// store answer after the link closed) are no-ops.
type linkMem struct {
	mu      sync.Mutex
	in, out int64 // held in each account
	done    bool
	source  string // the input account's key; fixed at its first charge (memSource)
	self    string // the output account's key
}

// charge takes n bytes of the budget for a frame this link reads.
func (l *link) charge(n int64) error { return l.take(n, false) }

// chargeOut takes n bytes for frames this link sends or fetches.
func (l *link) chargeOut(n int64) error { return l.take(n, true) }

func (l *link) take(n int64, out bool) error {
	if n <= 0 {
		return nil
	}
	b := l.node.mem
	l.mem.mu.Lock()
	if l.mem.source == "" {
		l.mem.source = l.memSource()
	}
	if l.mem.self == "" {
		l.mem.self = fmt.Sprintf("l:%p", l)
	}
	key, done := l.mem.source, l.mem.done
	if out {
		key = l.mem.self
	}
	l.mem.mu.Unlock()
	if done {
		return net.ErrClosed
	}
	if err := b.acquire(key, n, l.neighbour != "", l.closed); err != nil {
		return err
	}
	l.mem.mu.Lock()
	defer l.mem.mu.Unlock()
	if l.mem.done {
		b.release(key, n)
		return net.ErrClosed
	}
	if out {
		l.mem.out += n
	} else {
		l.mem.in += n
	}
	return nil
}

// uncharge gives back n bytes of a frame read (at most what the link holds for reading).
func (l *link) uncharge(n int64) { l.give(n, false) }

// unchargeOut gives back n bytes of frames sent or fetched.
func (l *link) unchargeOut(n int64) { l.give(n, true) }

func (l *link) give(n int64, out bool) {
	if n <= 0 {
		return
	}
	l.mem.mu.Lock()
	held, key := &l.mem.in, l.mem.source
	if out {
		held, key = &l.mem.out, l.mem.self
	}
	n = min(n, *held)
	*held -= n
	l.mem.mu.Unlock()
	l.node.mem.release(key, n)
}

// releaseAll returns what the link holds, for good.
func (l *link) releaseAll() {
	l.mem.mu.Lock()
	in, out := l.mem.in, l.mem.out
	l.mem.in, l.mem.out, l.mem.done = 0, 0, true
	source, self := l.mem.source, l.mem.self
	l.mem.mu.Unlock()
	l.node.mem.release(source, in)
	l.node.mem.release(self, out)
}

// memSource names the link's input account: a neighbour's key, else the client address
// (IPv6 by its /64). It is fixed at the first charge, and chosen again after the HELLO
// (resetSource): links are admitted as neighbours on their HELLO.
func (l *link) memSource() string { return l.Source() }

// resetSource forgets the input account once the HELLO's bytes are back.
func (l *link) resetSource() {
	l.mem.mu.Lock()
	if l.mem.in == 0 {
		l.mem.source = ""
	}
	l.mem.mu.Unlock()
}

// MemoryStats is the budget's state, for the status page.
type MemoryStats struct {
	InUse   int64 `json:"in_use_bytes"`
	Peak    int64 `json:"peak_bytes"`
	Budget  int64 `json:"budget_bytes"`
	Waits   int64 `json:"waits"`
	Refused int64 `json:"refused"`
}

// Memory reports the link memory budget.
func (n *Node) Memory() MemoryStats {
	return MemoryStats{InUse: n.mem.inUse(), Peak: n.mem.peak.Load(), Budget: n.mem.limit, Waits: n.mem.waits.Load(), Refused: n.mem.refused.Load()}
}
