package peers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// Set reconciliation between neighbours (PROTOCOL.md section 8), the link side: when to start
// a session, carrying RECON frames between the link and an echo.Reconciler, asking for what
// this relay lacks with WANT and answering the neighbour's WANTs. The algorithm itself is
// echo.Reconciler.
//
// Per neighbour pair one relay initiates: the one with the smaller fingerprint, on whichever
// link to that neighbour is up, when a link comes up, every ReconcileEvery (jittered) and on
// Reconcile. The other relay answers. Each side WANTs what it lacks; the answers are ordinary
// BLOB frames that go through the flood rule like any other.
//
// Memory is bounded per link: a session handles one message at a time (the store is read a
// page of keys at a time), at most needCap IDs wait to be asked for (beyond that the
// reconciler defers ranges to a later round), one WANT of echo.MaxWantIDs is in flight per
// session, and WANTs to serve queue up to echo.MaxWantsInFlight.
//
// Cost (BenchmarkReconcileSQLite, amd64, 2 cores): a session between two SQLite caches of
// 100 000 blobs that differ by 10 takes about 0.3 s (0.9 s with cold caches) and 10 KB on the
// wire, 10 000 blobs 40 ms and 4 KB; equal caches cost one walk of the (expiry, id) index on
// each side. Nothing is
// cached between sessions, so a full 1 GiB cache (about a million blobs) costs seconds per
// session on a Pi: the reason the default period is 10 minutes.
const (
	DefaultReconcileEvery = 10 * time.Minute
	reconFloorMargin      = time.Minute     // blobs expiring sooner than this are not reconciled
	reconIdle             = 2 * time.Minute // a session whose neighbour stays silent this long ends
	wantTimeout           = time.Minute     // a WANT unanswered this long closes the link
	needCap               = 4096            // IDs waiting to be asked for, per session
)

// ReconcileStats are the reconciliation counters of a node.
type ReconcileStats struct {
	Sessions int64 `json:"sessions"`  // sessions finished, either role
	Running  int64 `json:"running"`   // sessions in progress
	Rounds   int64 `json:"rounds"`    // RECON frames answered
	BytesOut int64 `json:"bytes_out"` // RECON and WANT frames sent
	BytesIn  int64 `json:"bytes_in"`  // RECON and WANT frames received
	Wanted   int64 `json:"wanted"`    // blob IDs asked for
	Missing  int64 `json:"missing"`   // asked for but not sent (expired or evicted meanwhile)
	Served   int64 `json:"served"`    // blobs sent in answer to WANTs
}

// reconNode is the node-wide part: triggers, which neighbours have a session we started, and
// which IDs some link is already asking for.
type reconNode struct {
	n     *Node
	set   echo.SetStore
	every time.Duration
	kick  chan struct{}
	sid   atomic.Uint32

	mu     sync.Mutex            // guards busy, wanted and recent
	busy   map[string]bool       // neighbours with a session this node initiated
	wanted map[echo.ID]bool      // IDs in a WANT in flight on some link
	recent map[echo.ID]time.Time // IDs whose WANT ended lately: their BLOBs may still be committing

	sessions, running, rounds, bytesOut, bytesIn, wantedN, missing, served atomic.Int64
}

func newReconNode(n *Node) *reconNode {
	set := n.relay.Set()
	if set == nil || n.cfg.ReconcileEvery < 0 || n.relay.Limits().MaxBlob < echo.MinReconMaxBlob {
		return nil
	}
	every := n.cfg.ReconcileEvery
	if every == 0 {
		every = DefaultReconcileEvery
	}
	rn := &reconNode{n: n, set: set, every: every, kick: make(chan struct{}, 1),
		busy: map[string]bool{}, wanted: map[echo.ID]bool{}, recent: map[echo.ID]time.Time{}}
	rn.sid.Store(rand.Uint32())
	return rn
}

// Reconcile starts a reconciliation with every neighbour this node initiates for, now.
func (n *Node) Reconcile() {
	if n.recon == nil {
		return
	}
	select {
	case n.recon.kick <- struct{}{}:
	default:
	}
}

// ReconcileStats returns the reconciliation counters (zero when reconciliation is off).
func (n *Node) ReconcileStats() ReconcileStats {
	rn := n.recon
	if rn == nil {
		return ReconcileStats{}
	}
	return ReconcileStats{Sessions: rn.sessions.Load(), Running: rn.running.Load(), Rounds: rn.rounds.Load(),
		BytesOut: rn.bytesOut.Load(), BytesIn: rn.bytesIn.Load(), Wanted: rn.wantedN.Load(),
		Missing: rn.missing.Load(), Served: rn.served.Load()}
}

func (rn *reconNode) features() uint64 {
	if rn == nil {
		return 0
	}
	return echo.FeatureReconcile
}

// loop starts sessions periodically and on Reconcile until the node stops.
func (rn *reconNode) loop() {
	for {
		d := rn.every*9/10 + rand.N(rn.every/5+1)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-rn.kick:
			t.Stop()
		case <-rn.n.ctx.Done():
			t.Stop()
			return
		}
		rn.n.mu.Lock() // l.recon is set under it
		rls := make([]*reconLink, 0, len(rn.n.links))
		for l := range rn.n.links {
			if l.recon != nil {
				rls = append(rls, l.recon)
			}
		}
		rn.n.mu.Unlock()
		for _, rl := range rls {
			rn.start(rl)
		}
	}
}

// linkUp prepares a neighbour link that offered reconciliation and starts a session if this
// node initiates for that neighbour. Called by admit, before the link's reader reads on.
func (rn *reconNode) linkUp(l *link) {
	if rn == nil || l.neighbour == "" || l.hello.Features&echo.FeatureReconcile == 0 || l.hello.MaxBlob < echo.MinReconMaxBlob {
		return
	}
	rl := &reconLink{l: l, rn: rn, wants: make(chan echo.Want, echo.MaxWantsInFlight), waiters: map[uint32]chan uint16{}}
	rn.n.mu.Lock()
	l.recon = rl // the reader reads it without the lock: it is this goroutine
	rn.n.mu.Unlock()
	rn.start(rl)
}

// start begins a session on rl if this node initiates for its neighbour and has none running
// with it.
func (rn *reconNode) start(rl *reconLink) {
	l := rl.l
	if rn.n.Fingerprint() >= l.neighbour {
		return
	}
	rn.mu.Lock()
	if rn.busy[l.neighbour] {
		rn.mu.Unlock()
		return
	}
	rn.busy[l.neighbour] = true
	rn.mu.Unlock()
	floor := uint64(rn.n.relay.Now().Add(reconFloorMargin).Unix())
	s := rl.newSession(rn.sid.Add(1), floor, true)
	go s.run()
}

// claim keeps the IDs that are neither stored nor asked for on another link, and marks them
// as asked for.
func (rn *reconNode) claim(ids []echo.ID) []echo.ID {
	out := ids[:0]
	for _, id := range ids {
		if has, err := rn.set.Has(id); err != nil || has {
			continue
		}
		rn.mu.Lock()
		if t, ok := rn.recent[id]; ok && time.Since(t) < recentWant {
			rn.mu.Unlock()
			continue
		}
		if !rn.wanted[id] {
			rn.wanted[id] = true
			out = append(out, id)
		}
		rn.mu.Unlock()
	}
	return out
}

// release ends the claim on ids when their WANT ended. The BLOBs that answered it are
// committed asynchronously, so for recentWant another session (say on the link that replaces
// this one, which comes up a moment later) does not ask for them again.
//
// A WANT that ended without its answer (the link closed, say as the duplicate of a second link
// to the same neighbour) leaves no such mark: its BLOBs may never come, so the next session
// asks again at once; a BLOB that did arrive meanwhile is stored by then or dropped as a
// duplicate.
func (rn *reconNode) release(ids []echo.ID, answered bool) {
	now := time.Now()
	rn.mu.Lock()
	for _, id := range ids {
		delete(rn.wanted, id)
		if answered {
			rn.recent[id] = now
		}
	}
	if len(rn.recent) > recentWantMax {
		for id, t := range rn.recent {
			if now.Sub(t) >= recentWant || len(rn.recent) > recentWantMax {
				delete(rn.recent, id)
			}
		}
	}
	rn.mu.Unlock()
}

// recentWant is how long an ID whose WANT ended is not asked for again; recentWantMax bounds
// that memory (64 IDs a WANT, a few WANTs a second).
const (
	recentWant    = 30 * time.Second
	recentWantMax = 16384
)

// reconLink is the per-link part: the sessions on it (at most one this side started and one
// the neighbour started), WANTs waiting for their end, WANTs to serve.
type reconLink struct {
	l       *link
	rn      *reconNode
	wants   chan echo.Want
	serving sync.Once // starts serveWants at the first WANT: an idle link holds no goroutine for it
	req     atomic.Uint32

	mu      sync.Mutex // guards own, peer and waiters
	own     *reconSession
	peer    *reconSession
	waiters map[uint32]chan uint16
}

// handle runs on the link's reader for RECON, WANT and WANT_END; it never blocks.
func (rl *reconLink) handle(f echo.Frame) error {
	l := rl.l
	rl.rn.bytesIn.Add(int64(len(f.Body) + 5))
	switch f.Type {
	case echo.FrameRecon:
		m, err := echo.ParseRecon(f.Body)
		if err != nil {
			return l.fatal(err)
		}
		rl.mu.Lock()
		s := rl.own
		if s == nil || s.id != m.Session {
			s = rl.peer
			if s == nil || s.id != m.Session {
				if s != nil {
					s.abort()
				}
				s = rl.newSessionLocked(m.Session, m.Floor, false)
				go s.run()
			}
		}
		rl.mu.Unlock()
		if m.Floor != s.floor {
			return l.fatal(fmt.Errorf("%w: RECON floor %d in a session with floor %d", echo.ErrMalformed, m.Floor, s.floor))
		}
		select {
		case s.in <- m:
		default:
			return l.fatal(fmt.Errorf("%w: RECON before the previous one was answered", echo.ErrMalformed))
		}
	case echo.FrameWant:
		w, err := echo.ParseWant(f.Body)
		if err != nil {
			return l.fatal(err)
		}
		rl.serving.Do(func() { go rl.serveWants() })
		select {
		case rl.wants <- w:
		default:
			return l.fatal(&echo.Error{Code: echo.CodeRateLimited, Msg: "more WANTs in flight than allowed"})
		}
	case echo.FrameWantEnd:
		e, err := echo.ParseWantEnd(f.Body)
		if err != nil {
			return l.fatal(err)
		}
		rl.mu.Lock()
		ch := rl.waiters[e.Req]
		delete(rl.waiters, e.Req)
		rl.mu.Unlock()
		if ch != nil {
			ch <- e.Missing
		}
	}
	return nil
}

// serveWants answers the neighbour's WANTs, one at a time, with BLOB frames and a WANT_END.
func (rl *reconLink) serveWants() {
	l := rl.l
	for {
		var w echo.Want
		select {
		case w = <-rl.wants:
		case <-l.closed:
			return
		}
		missing := 0
		for _, id := range w.IDs {
			env, ok, err := rl.rn.set.Get(id)
			if err != nil || !ok {
				missing++
				continue
			}
			if l.send(outFrame{t: echo.FrameBlob, body: env}) != nil {
				return
			}
			rl.rn.served.Add(1)
		}
		if rl.sendFrame(echo.WantEnd{Req: w.Req, Missing: uint16(missing)}.Frame()) != nil {
			return
		}
	}
}

func (rl *reconLink) sendFrame(f echo.Frame) error {
	rl.rn.bytesOut.Add(int64(len(f.Body) + 5))
	return rl.l.send(rl.l.frame(f))
}

func (rl *reconLink) newSession(id uint32, floor uint64, own bool) *reconSession {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return rl.newSessionLocked(id, floor, own)
}

func (rl *reconLink) newSessionLocked(id uint32, floor uint64, own bool) *reconSession {
	s := &reconSession{rl: rl, id: id, floor: floor, own: own, rc: echo.NewReconciler(rl.rn.set, id, floor),
		in: make(chan echo.Recon, 1), grew: make(chan struct{}, 1), drained: make(chan struct{}, 1),
		stop: make(chan struct{}), ended: make(chan struct{})}
	if own {
		rl.own = s
	} else {
		rl.peer = s
	}
	rl.rn.running.Add(1)
	return s
}

// reconSession is one session on one link:
//
//	own:  Initiate ─▶ send ─▶ wait RECON ─▶ Process ─▶ send ─▶ … ─▶ empty RECON either way ─▶ drain WANTs ─▶ end
//	peer:             wait RECON ─▶ Process ─▶ send ─▶ …
type reconSession struct {
	rl    *reconLink
	id    uint32
	floor uint64
	own   bool
	rc    *echo.Reconciler
	in    chan echo.Recon

	needMu        sync.Mutex // guards need and messagesDone
	need          []echo.ID
	messagesDone  bool
	grew, drained chan struct{}

	stopOnce sync.Once
	stop     chan struct{} // aborted: a newer session replaced it
	ended    chan struct{} // no more RECON will be processed
	rounds   int
	wanted   int
	missing  int
}

func (s *reconSession) abort() { s.stopOnce.Do(func() { close(s.stop) }) }

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *reconSession) addNeed(id echo.ID) {
	s.needMu.Lock()
	s.need = append(s.need, id)
	s.needMu.Unlock()
	notify(s.grew)
}

func (s *reconSession) needLen() int {
	s.needMu.Lock()
	defer s.needMu.Unlock()
	return len(s.need)
}

func (s *reconSession) run() {
	rl, l := s.rl, s.rl.l
	start := time.Now()
	wantDone := make(chan struct{})
	go s.wanter(wantDone)
	defer func() {
		s.needMu.Lock()
		s.messagesDone = true
		s.needMu.Unlock()
		close(s.ended)
		<-wantDone
		rl.mu.Lock()
		if rl.own == s {
			rl.own = nil
		}
		if rl.peer == s {
			rl.peer = nil
		}
		rl.mu.Unlock()
		if s.own {
			rl.rn.mu.Lock()
			delete(rl.rn.busy, l.neighbour)
			rl.rn.mu.Unlock()
			// The link closed under the session (replaced by the neighbour's other link, say):
			// go on over the link that carries the neighbour now.
			if c := l.node.carrierOf(l.neighbour); isClosed(l.closed) && c != nil && c != l {
				l.node.mu.Lock()
				crl := c.recon
				l.node.mu.Unlock()
				if crl != nil {
					rl.rn.start(crl)
				}
			}
		}
		rl.rn.running.Add(-1)
		rl.rn.sessions.Add(1)
		lvl := l.node.log.Debug
		if s.wanted > 0 {
			lvl = l.node.log.Info
		}
		lvl("reconciliation finished", "peer", l.node.peerName(l), "initiator", s.own, "rounds", s.rounds,
			"wanted", s.wanted, "missing", s.missing, "took", time.Since(start).Round(time.Millisecond))
	}()
	if s.own {
		m, err := s.rc.Initiate()
		if err != nil {
			l.node.log.Warn("reconciliation not started", "err", err)
			return
		}
		if rl.sendFrame(m.Frame()) != nil {
			return
		}
	}
	idle := time.NewTimer(reconIdle)
	defer idle.Stop()
	for {
		var m echo.Recon
		select {
		case m = <-s.in:
		case <-idle.C:
			l.node.log.Info("reconciliation abandoned: the neighbour went silent", "peer", l.node.peerName(l))
			return
		case <-s.stop:
			return
		case <-l.closed:
			return
		}
		if len(m.Ranges) == 0 {
			return
		}
		for s.needLen() >= needCap/2 {
			select {
			case <-s.drained:
			case <-s.stop:
				return
			case <-l.closed:
				return
			}
		}
		s.rounds++
		rl.rn.rounds.Add(1)
		reply, err := s.rc.Process(m, s.addNeed, func() bool { return s.needLen() >= needCap })
		if errors.Is(err, echo.ErrMalformed) {
			l.node.log.Info("neighbour broke the reconciliation protocol", "peer", l.node.peerName(l), "err", err)
			l.close(err)
			return
		}
		if err != nil {
			// Our store failed: end the exchange politely, try again next time.
			l.node.log.Warn("reconciliation failed", "err", err)
			reply = echo.Recon{Session: s.id, Floor: m.Floor}
		}
		if rl.sendFrame(reply.Frame()) != nil || len(reply.Ranges) == 0 {
			return
		}
		idle.Reset(reconIdle)
	}
}

// take returns up to n needed IDs, waiting for some; nil when the session has no more.
func (s *reconSession) take(n int) []echo.ID {
	l := s.rl.l
	for {
		s.needMu.Lock()
		if len(s.need) > 0 {
			k := min(n, len(s.need))
			batch := append([]echo.ID(nil), s.need[:k]...)
			s.need = append(s.need[:0], s.need[k:]...)
			s.needMu.Unlock()
			return batch
		}
		done := s.messagesDone
		s.needMu.Unlock()
		if done {
			return nil
		}
		select {
		case <-s.grew:
		case <-s.ended:
		case <-l.closed:
			return nil
		}
	}
}

// wanter asks the neighbour for what this side lacks, one WANT at a time.
func (s *reconSession) wanter(done chan struct{}) {
	defer close(done)
	rl, l := s.rl, s.rl.l
	for {
		batch := s.take(echo.MaxWantIDs)
		notify(s.drained)
		if batch == nil {
			return
		}
		batch = rl.rn.claim(batch)
		if len(batch) == 0 {
			continue
		}
		req := rl.req.Add(1)
		ch := make(chan uint16, 1)
		rl.mu.Lock()
		rl.waiters[req] = ch
		rl.mu.Unlock()
		s.wanted += len(batch)
		rl.rn.wantedN.Add(int64(len(batch)))
		err := rl.sendFrame(echo.Want{Req: req, IDs: batch}.Frame())
		t := time.NewTimer(wantTimeout)
		if err == nil {
			select {
			case missing := <-ch:
				s.missing += int(missing)
				rl.rn.missing.Add(int64(missing))
			case <-t.C:
				// The neighbour is broken or hopelessly overloaded: start over on a new link.
				err = fmt.Errorf("a WANT went unanswered for %s", wantTimeout)
				l.close(err)
			case <-l.closed:
				err = net.ErrClosed
			}
		}
		t.Stop()
		rl.mu.Lock()
		delete(rl.waiters, req)
		rl.mu.Unlock()
		rl.rn.release(batch, err == nil)
		if err != nil {
			return
		}
	}
}
