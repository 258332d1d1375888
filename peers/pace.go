package peers

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Pacing clients to the neighbours. Flooding is best-effort: a neighbour whose queue is full
// loses the blob (reconciliation repairs it later). Clients that submit faster than this relay
// can pass blobs on would turn that into steady loss. So a client's SUBMIT is admitted to the
// store only while every neighbour's flood queue, plus every client blob admitted and not yet
// flooded, stays below half the queue (QueueBlobs/2 blobs, QueueBytes/2 bytes). Otherwise the
// client link's reader waits, at most PaceWait, for the neighbours' writers to drain: the
// client sees slower acks, its window fills and it slows down to what the neighbours take.
//
// Clients are held back only for neighbours that take blobs quickly (a relay busy with its own
// store, a LAN): a neighbour whose writer took nothing for PaceStall while blobs wait is
// stalled, and one that drains on average slower than one blob per PaceSlow is slow (a Pi
// behind a thin uplink). Clients are not held back for those: their blobs are dropped and
// counted as before, reconciliation repairs the gap, and WriteTimeout closes a stalled link.
// One slow neighbour thus cannot slow a relay's clients down to its pace. Config.PaceSlow
// overrides PaceSlow. Neighbour links are
// never held back: their readers must not wait on another neighbour.
const (
	PaceWait  = time.Second            // longest a SUBMIT is held back
	PaceStall = 500 * time.Millisecond // a queue that drained nothing this long is stalled
	PaceSlow  = 5 * time.Millisecond   // mean interval between blobs drained above which a neighbour is slow
	// paceWindow is how long a drain rate is measured over: long enough to average the bursts
	// in which QUIC flow control lets a slow neighbour's blobs through.
	paceWindow = 250 * time.Millisecond
)

type pacer struct {
	mu        sync.Mutex    // guards everything below
	links     []*link       // neighbour links
	n, bytes  int64         // client blobs admitted and not yet flooded
	waiting   int           // readers in admit
	room      chan struct{} // closed (and forgotten) when a writer drained a blob while readers wait
	hasWaiter atomic.Bool   // waiting > 0, read by writers without the lock
}

func (p *pacer) add(l *link) {
	l.took.Store(time.Now().UnixNano())
	p.mu.Lock()
	p.links = append(p.links, l)
	p.mu.Unlock()
}

func (p *pacer) remove(l *link) {
	p.mu.Lock()
	p.links = slices.DeleteFunc(p.links, func(x *link) bool { return x == l })
	p.wake()
	p.mu.Unlock()
}

// wake releases the waiting readers; the caller holds mu.
func (p *pacer) wake() {
	if p.room != nil {
		close(p.room)
		p.room = nil
	}
}

// drained runs after l's writer took a BLOB off its queue. Only that writer calls it, so the
// rate window needs no lock; the atomics let readers look at the result.
func (p *pacer) drained(l *link) {
	now := time.Now().UnixNano()
	l.took.Store(now)
	// Drain rate over windows of paceWindow during which blobs kept waiting: a window that
	// ends with an empty queue measures the absence of traffic, not the neighbour.
	l.winN++
	if l.winStart == 0 {
		l.winStart = now
	} else if d := now - l.winStart; d >= int64(paceWindow) {
		if l.blobs.len() > 0 {
			l.slow.Store(d/l.winN > int64(l.node.cfg.PaceSlow))
		}
		l.winStart, l.winN = now, 0
	}
	if p.hasWaiter.Load() {
		p.mu.Lock()
		p.wake()
		p.mu.Unlock()
	}
}

// fits reports whether size more bytes of client blobs fit every live neighbour queue; the
// caller holds mu.
func (p *pacer) fits(l *link, size int64, now int64) bool {
	qb := l.node.cfg.QueueBytes
	for _, nb := range p.links {
		n := int64(nb.blobs.len())
		if n > 0 && (now-nb.took.Load() > int64(l.node.cfg.PaceStall) || nb.slow.Load()) {
			continue // stalled or slow: not waited for
		}
		if n+p.n+1 > QueueBlobs/2 || nb.qbytes.Load()+p.bytes+size > qb/2 {
			return false
		}
	}
	return true
}

// admit waits until a client blob of size bytes fits (or PaceWait passed, or the link closed)
// and counts it in flight; done must follow once it has been flooded or refused.
func (p *pacer) admit(l *link, size int) {
	s := int64(size)
	var deadline time.Time
	p.mu.Lock()
	for len(p.links) > 0 {
		now := time.Now()
		if p.fits(l, s, now.UnixNano()) {
			break
		}
		if deadline.IsZero() {
			deadline = now.Add(l.node.cfg.PaceWait)
		} else if now.After(deadline) {
			break
		}
		if p.room == nil {
			p.room = make(chan struct{})
		}
		room := p.room
		p.waiting++
		p.hasWaiter.Store(true)
		p.mu.Unlock()
		t := time.NewTimer(min(l.node.cfg.PaceStall, deadline.Sub(now)))
		select {
		case <-room:
		case <-t.C:
		case <-l.closed:
		}
		t.Stop()
		p.mu.Lock()
		p.waiting--
		p.hasWaiter.Store(p.waiting > 0)
		if isClosed(l.closed) {
			break
		}
	}
	p.n++
	p.bytes += s
	p.mu.Unlock()
}

func (p *pacer) done(size int) {
	p.mu.Lock()
	p.n--
	p.bytes -= int64(size)
	p.mu.Unlock()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
