package echo

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Store is what a Relay needs of its cache. Package store implements it. Errors whose
// Reason() is "store_full" or "quota_exceeded" map to those wire codes.
type Store interface {
	// Insert stores the envelope if no blob with id is stored and calls done after the
	// transaction committed (durable before ack). inserted is false for a known ID.
	Insert(id, tag [32]byte, expiry int64, env []byte, done func(inserted bool, err error))
	// Scan calls fn for unexpired blobs with seq > after in seq order, only those whose tag is
	// in tags unless tags is empty, at most limit blobs and about maxBytes bytes.
	Scan(tags [][32]byte, after uint64, limit, maxBytes int, fn func(seq uint64, env []byte)) (next uint64, more bool, err error)
}

// Link is one connection as the flood rule sees it.
type Link interface {
	// Neighbour is the identity (fingerprint) of the neighbour relay on this link, or "" for a
	// client link.
	Neighbour() string
	// SendBlob queues a BLOB frame without blocking; false when the queue was full.
	SendBlob(env []byte) bool
}

// Relay applies validation, the store and the flood rule. Its methods are safe for
// concurrent use by every link's reader.
type Relay struct {
	store  Store
	set    SetStore
	limits Limits
	log    *slog.Logger
	now    func() time.Time

	mu         sync.Mutex // guards neighbours and subs
	neighbours map[string][]Link
	subs       map[chan struct{}]struct{}
	unstored   recentIDs // IDs flooded without being stored (store full), against loops

	stats Stats
}

// Stats are the relay's counters; read them with Snapshot.
type Stats struct {
	Received   atomic.Int64 // envelopes offered (BLOB and SUBMIT)
	Stored     atomic.Int64 // new blobs committed
	Duplicates atomic.Int64 // known IDs dropped
	Relayed    atomic.Int64 // BLOB frames queued to neighbours
	QueueDrops atomic.Int64 // BLOBs dropped because a neighbour's queue was full
	// FloodedUnstored counts new BLOBs from neighbours that did not fit in the store (full)
	// and were flooded onwards anyway.
	FloodedUnstored atomic.Int64
	rejects         [16]atomic.Int64
}

// StatsSnapshot is a copy of the counters.
type StatsSnapshot struct {
	Received, Stored, Duplicates, Relayed, QueueDrops int64
	FloodedUnstored                                   int64
	Rejects                                           map[string]int64
	Neighbours                                        int
}

// Config for NewRelay.
type Config struct {
	Store  Store
	Set    SetStore // nil: no set reconciliation
	Limits Limits
	Logger *slog.Logger     // nil discards
	Now    func() time.Time // nil is time.Now
}

// NewRelay returns a relay over the given store.
func NewRelay(c Config) *Relay {
	r := &Relay{store: c.Store, set: c.Set, limits: c.Limits, log: c.Logger, now: c.Now,
		neighbours: map[string][]Link{}, subs: map[chan struct{}]struct{}{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.limits.MaxBlob == 0 {
		r.limits = DefaultLimits()
	}
	return r
}

// Limits returns the relay's acceptance rules.
func (r *Relay) Limits() Limits { return r.limits }

// Set is the store as set reconciliation reads it, nil when reconciliation is off.
func (r *Relay) Set() SetStore { return r.set }

// Now is the relay's clock.
func (r *Relay) Now() time.Time { return r.now() }

// Reject counts a rejection under its code (for errors found outside Accept).
func (r *Relay) Reject(c Code) {
	if int(c) < len(r.stats.rejects) {
		r.stats.rejects[c].Add(1)
	}
}

// Snapshot copies the counters.
func (r *Relay) Snapshot() StatsSnapshot {
	s := StatsSnapshot{
		Received: r.stats.Received.Load(), Stored: r.stats.Stored.Load(),
		Duplicates: r.stats.Duplicates.Load(), Relayed: r.stats.Relayed.Load(),
		QueueDrops: r.stats.QueueDrops.Load(), FloodedUnstored: r.stats.FloodedUnstored.Load(),
		Rejects: map[string]int64{},
	}
	for _, c := range Codes() {
		s.Rejects[c.String()] = r.stats.rejects[c].Load()
	}
	r.mu.Lock()
	s.Neighbours = len(r.neighbours)
	r.mu.Unlock()
	return s
}

// AddNeighbour registers a neighbour link for flooding.
func (r *Relay) AddNeighbour(l Link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.neighbours[l.Neighbour()] = append(r.neighbours[l.Neighbour()], l)
}

// RemoveNeighbour unregisters a neighbour link.
func (r *Relay) RemoveNeighbour(l Link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ls := r.neighbours[l.Neighbour()]
	for i, x := range ls {
		if x == l {
			ls = append(ls[:i:i], ls[i+1:]...)
			break
		}
	}
	if len(ls) == 0 {
		delete(r.neighbours, l.Neighbour())
	} else {
		r.neighbours[l.Neighbour()] = ls
	}
}

// Accept validates env, stores it and, if it was new, floods it to every neighbour except
// the one on from (nil for locally created blobs). done is called once, after the commit or
// on rejection, from some other goroutine or the caller's.
//
// A valid BLOB from a neighbour that the store refuses as full is still flooded (PROTOCOL.md
// section 9): a full relay keeps the mesh connected, the other stores deduplicate, and a
// bounded memory of such IDs (unstoredMemory) stops a loop among relays that are all full.
// done still reports the store_full error.
func (r *Relay) Accept(env []byte, from Link, done func(id ID, inserted bool, err error)) {
	r.stats.Received.Add(1)
	e, err := r.limits.Check(env, r.now())
	if err != nil {
		r.Reject(CodeOf(err))
		done(ID{}, false, err)
		return
	}
	id := BlobID(env)
	r.store.Insert(id, e.Tag, e.Expiry, env, func(inserted bool, err error) {
		if err != nil {
			code := CodeOf(err)
			r.Reject(code)
			if code == CodeStoreFull && from != nil && from.Neighbour() != "" && r.unstored.add(id) {
				r.stats.FloodedUnstored.Add(1)
				r.flood(env, from)
			}
			done(id, false, err)
			return
		}
		if !inserted {
			r.stats.Duplicates.Add(1)
			done(id, false, nil)
			return
		}
		r.stats.Stored.Add(1)
		r.flood(env, from)
		r.wake()
		done(id, true, nil)
	})
}

func (r *Relay) flood(env []byte, from Link) {
	origin := ""
	if from != nil {
		origin = from.Neighbour()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for n, ls := range r.neighbours {
		if n == origin || len(ls) == 0 {
			continue
		}
		if h, ok := ls[0].(interface{ HalfEcho() bool }); ok && h.HalfEcho() && origin != "" {
			continue // Half Echo: only our own clients' blobs go onto that link
		}
		if ls[0].SendBlob(env) {
			r.stats.Relayed.Add(1)
		} else {
			r.stats.QueueDrops.Add(1)
		}
	}
}

// Fetch reads one page for a FETCH (tags empty = every blob).
func (r *Relay) Fetch(tags []Tag, after uint64, limit int, fn func(seq uint64, env []byte)) (next uint64, more bool, err error) {
	if limit <= 0 || limit > FetchPageBlobs {
		limit = FetchPageBlobs
	}
	raw := make([][32]byte, len(tags))
	for i, t := range tags {
		raw[i] = t
	}
	return r.store.Scan(raw, after, limit, FetchPageBytes, fn)
}

// Watch returns a channel that receives (coalesced) a value whenever new blobs were stored,
// and a function to stop watching. Subscribers re-scan from their cursor when woken.
func (r *Relay) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
	}
}

func (r *Relay) wake() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// unstoredMemory bounds the IDs a relay remembers having flooded without storing them: 16384
// IDs (about 1.5 MiB) outlast a flood's trip around any cycle of a classroom-sized mesh.
const unstoredMemory = 16384

// recentIDs is a fixed-size set of the most recently added IDs (FIFO eviction).
type recentIDs struct {
	mu   sync.Mutex // guards the fields below
	set  map[ID]struct{}
	ring []ID
	next int
}

// add inserts id and reports whether it was absent.
func (s *recentIDs) add(id ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = make(map[ID]struct{}, unstoredMemory)
		s.ring = make([]ID, 0, unstoredMemory)
	}
	if _, ok := s.set[id]; ok {
		return false
	}
	if len(s.ring) < unstoredMemory {
		s.ring = append(s.ring, id)
	} else {
		delete(s.set, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % unstoredMemory
	}
	s.set[id] = struct{}{}
	return true
}
