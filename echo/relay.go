package echo

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Store is what a Relay needs of its cache. Package store implements it. Errors whose
// Reason() is "store_full" or "quota_exceeded" map to those wire codes.
type Store interface {
	// Insert stores the envelope if no blob with id is stored and calls done after the
	// transaction committed (durable before ack). inserted is false for a known ID. source
	// says who brought it (SourceOf), for fair shares of a full cache.
	Insert(id, tag [32]byte, source [8]byte, expiry int64, env []byte, done func(inserted bool, err error))
	// Scan calls fn for unexpired blobs with seq > after in seq order, only those whose tag is
	// in tags unless tags is empty, at most limit blobs and about maxBytes bytes.
	Scan(tags [][32]byte, after uint64, limit, maxBytes int, fn func(seq uint64, env []byte)) (next uint64, more bool, err error)
}

// Link is one connection as the flood rule sees it. Package peers implements it for its relay,
// client and Echo links; peers.Node owns them and hands the flood rule the ones to flood to
// (Neighbours).
type Link interface {
	// Neighbour is the identity of the neighbour on this link: the fingerprint of a neighbour
	// relay, a per-link name of an Echo link, or "" for a client link.
	Neighbour() string
	// Kind says which flood rules apply to the link (PROTOCOL.md sections 3 and 10).
	Kind() LinkKind
	// SendBlob queues a BLOB frame without blocking; false when the queue was full.
	SendBlob(env []byte) bool
	// Source names who is on the other side for fair shares of a full cache: a client by
	// its address (an IPv6 one by its /64), a neighbour by its key; blobs of one source share
	// a share (PROTOCOL.md section 9).
	Source() string
}

// SourceOf is the store's 8-byte source of a blob from link (zero for none): a hash, so the
// store keeps no client address.
func SourceOf(from Link) (src [8]byte) {
	if from == nil {
		return src
	}
	h := sha256.Sum256([]byte("echorelay-source-v1/" + from.Source()))
	copy(src[:], h[:])
	return src
}

// LinkKind is what a link is to the flood rule. The zero value is a client link, which floods
// never take.
type LinkKind uint8

// Link kinds.
const (
	// LinkClient is a client, or a relay not in the peers file (served as a client). Its
	// SUBMITs are "our own clients' blobs"; it receives no floods.
	LinkClient LinkKind = iota
	// LinkRelay is a configured echorelay neighbour: it receives every flood except its own.
	LinkRelay
	// LinkEcho is a Full Echo link: it receives every flood except its own, as Echo data.
	LinkEcho
	// LinkHalfEcho is a Half Echo link: it receives only blobs that this relay's own clients
	// submitted (or that the relay created), never other neighbours' traffic.
	LinkHalfEcho
)

var linkKindNames = [...]string{LinkClient: "client", LinkRelay: "relay", LinkEcho: "echo", LinkHalfEcho: "half_echo"}

// String is the kind's name for logs and status: client, relay, echo or half_echo.
func (k LinkKind) String() string {
	if int(k) < len(linkKindNames) {
		return linkKindNames[k]
	}
	return fmt.Sprintf("link_kind_%d", uint8(k))
}

// Neighbours is the one owner of a relay's neighbour links (peers.Node): the flood rule asks it
// for the links to flood to on every flood and keeps no record of its own.
type Neighbours interface {
	// FloodLinks returns the one link of each linked neighbour (echorelay and Echo). The caller
	// must not modify the slice; the owner replaces it instead of changing it.
	FloodLinks() []Link
}

// Relay applies validation, the store and the flood rule. Its methods are safe for
// concurrent use by every link's reader.
type Relay struct {
	store  Store
	set    SetStore
	limits Limits
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex // guards owner and subs
	owner    Neighbours // nil until SetNeighbours: no links, no floods
	subs     map[chan struct{}]struct{}
	unstored recentIDs // IDs flooded without being stored (store full), against loops

	stats Stats
}

// Stats are the relay's counters; read them with Snapshot.
type Stats struct {
	Received   atomic.Int64 // envelopes offered (BLOB and SUBMIT)
	Stored     atomic.Int64 // new blobs committed
	Duplicates atomic.Int64 // known IDs dropped
	Relayed    atomic.Int64 // BLOB frames queued to neighbours
	QueueDrops atomic.Int64 // BLOBs dropped because a neighbour's queue was full (status "queue_drops")
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
	Neighbours                                        int // linked neighbours (echorelay and Echo)
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
		subs: map[chan struct{}]struct{}{}}
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
	s.Neighbours = len(r.floodLinks())
	return s
}

// SetNeighbours hands the relay the owner of its neighbour links; peers.New calls it with the
// Node it builds around the relay. Until then the relay floods to nobody.
func (r *Relay) SetNeighbours(n Neighbours) {
	r.mu.Lock()
	r.owner = n
	r.mu.Unlock()
}

func (r *Relay) floodLinks() []Link {
	r.mu.Lock()
	n := r.owner
	r.mu.Unlock()
	if n == nil {
		return nil
	}
	return n.FloodLinks()
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
	r.store.Insert(id, e.Tag, SourceOf(from), e.Expiry, env, func(inserted bool, err error) {
		if err != nil {
			code := CodeOf(err)
			r.Reject(code)
			if code == CodeStoreFull && from != nil && from.Kind() != LinkClient && r.unstored.add(id) {
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

// flood is the flood rule (PROTOCOL.md sections 3 and 10): the blob goes to every neighbour
// link except those of the neighbour it came from, at most once per neighbour identity, and to
// Half Echo links only when it did not come from a neighbour (from is nil or a client link).
// Client links in the list get nothing. A full queue drops the blob for that link and counts
// it (QueueDrops); reconciliation repairs the gap.
func (r *Relay) flood(env []byte, from Link) {
	origin, fromNeighbour := "", false
	if from != nil && from.Kind() != LinkClient {
		origin, fromNeighbour = from.Neighbour(), true
	}
	ls := r.floodLinks()
	for i, l := range ls {
		if !takes(l, fromNeighbour) {
			continue
		}
		n := l.Neighbour()
		if fromNeighbour && n == origin || sentTo(ls[:i], n, fromNeighbour) {
			continue
		}
		if l.SendBlob(env) {
			r.stats.Relayed.Add(1)
		} else {
			r.stats.QueueDrops.Add(1)
		}
	}
}

// takes reports whether a link of l's kind receives a flood: relay and Full Echo links every
// one, Half Echo links only those that did not come from a neighbour, client links none.
func takes(l Link, fromNeighbour bool) bool {
	switch l.Kind() {
	case LinkRelay, LinkEcho:
		return true
	case LinkHalfEcho:
		return !fromNeighbour
	}
	return false
}

// sentTo reports whether an earlier link of the list that takes this flood has the neighbour
// identity n: one copy per neighbour even if its owner listed two of its links. Neighbour lists
// are short (a peers file), so a scan beats a map.
func sentTo(earlier []Link, n string, fromNeighbour bool) bool {
	for _, l := range earlier {
		if l.Neighbour() == n && takes(l, fromNeighbour) {
			return true
		}
	}
	return false
}

// Fetch reads one page for a FETCH (tags empty = every blob).
func (r *Relay) Fetch(tags []Tag, after uint64, limit int, fn func(seq uint64, env []byte)) (next uint64, more bool, err error) {
	return r.FetchBytes(tags, after, limit, FetchPageBytes, fn)
}

// FetchBytes is Fetch with a page of at most maxBytes envelope bytes (at least one blob;
// 0 or more than FetchPageBytes is FetchPageBytes): a relay reads smaller pages for clients,
// whose pages it holds in memory until they read them.
func (r *Relay) FetchBytes(tags []Tag, after uint64, limit, maxBytes int, fn func(seq uint64, env []byte)) (next uint64, more bool, err error) {
	if limit <= 0 || limit > FetchPageBlobs {
		limit = FetchPageBlobs
	}
	if maxBytes <= 0 || maxBytes > FetchPageBytes {
		maxBytes = FetchPageBytes
	}
	raw := make([][32]byte, len(tags))
	for i, t := range tags {
		raw[i] = t
	}
	return r.store.Scan(raw, after, limit, maxBytes, fn)
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
