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
// A neighbour whose writer took nothing for PaceStall while blobs wait is stalled, not slow:
// clients are not held back for it, its blobs are dropped and counted as before, and
// WriteTimeout closes its link. Neighbour links are never held back: their readers must not
// wait on another neighbour.
const (
	PaceWait  = time.Second            // longest a SUBMIT is held back
	PaceStall = 500 * time.Millisecond // a queue that drained nothing this long is stalled
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

// drained runs after l's writer took a BLOB off its queue.
func (p *pacer) drained(l *link) {
	l.took.Store(time.Now().UnixNano())
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
		n := int64(len(nb.blobs))
		if n > 0 && now-nb.took.Load() > int64(PaceStall) {
			continue // stalled
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
			deadline = now.Add(PaceWait)
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
		t := time.NewTimer(min(PaceStall, deadline.Sub(now)))
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
