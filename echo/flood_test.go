package echo

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The flood rule (PROTOCOL.md sections 3 and 10) with fake links and an in-memory store: no
// sockets. peers' tests run the same rule over real links; these pin down each case of it.

// floodNow is the fixed clock of these tests.
var floodNow = time.Unix(1_900_000_000-3600, 0)

// fakeLink records what the flood rule queues to it; room is how many BLOBs its queue takes.
type fakeLink struct {
	name string
	kind LinkKind
	room int

	mu  sync.Mutex // guards got
	got [][]byte
}

func newFakeLink(name string, kind LinkKind) *fakeLink {
	return &fakeLink{name: name, kind: kind, room: 1 << 20}
}

func (l *fakeLink) Neighbour() string { return l.name }
func (l *fakeLink) Kind() LinkKind    { return l.kind }

func (l *fakeLink) Source() string { return "f:" + l.Neighbour() }

func (l *fakeLink) SendBlob(env []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.got) >= l.room {
		return false
	}
	l.got = append(l.got, env)
	return true
}

func (l *fakeLink) blobs() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.got...)
}

// linkList is a fixed set of neighbour links (Neighbours).
type linkList []Link

func (ls linkList) FloodLinks() []Link { return ls }

// memStore is a Store in memory that holds at most max blobs (0: unbounded) and refuses more
// with ErrStoreFull, as package store does.
type memStore struct {
	max int

	mu  sync.Mutex // guards ids
	ids map[ID]bool
}

func (s *memStore) Insert(id, _ [32]byte, _ [8]byte, _ int64, _ []byte, done func(bool, error)) {
	s.mu.Lock()
	if s.ids == nil {
		s.ids = map[ID]bool{}
	}
	known := s.ids[id]
	full := !known && s.max > 0 && len(s.ids) >= s.max
	if !known && !full {
		s.ids[id] = true
	}
	s.mu.Unlock()
	switch {
	case full:
		done(false, fmt.Errorf("failed to insert blob: %w", ErrStoreFull))
	default:
		done(!known, nil)
	}
}

func (s *memStore) Scan([][32]byte, uint64, int, int, func(uint64, []byte)) (uint64, bool, error) {
	return 0, false, nil
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// floodEnv is an envelope that expires ttl after floodNow; payload makes it unique.
func floodEnv(t *testing.T, payload string, ttl time.Duration) []byte {
	t.Helper()
	e := Envelope{Expiry: floodNow.Add(ttl).Unix(), Payload: []byte(payload)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newFloodRelay(st Store, owner Neighbours) *Relay {
	r := NewRelay(Config{Store: st, Now: func() time.Time { return floodNow }})
	if owner != nil {
		r.SetNeighbours(owner)
	}
	return r
}

// accepted is what Accept's done reported.
type accepted struct {
	id       ID
	inserted bool
	err      error
	calls    int
}

func accept(r *Relay, env []byte, from Link) accepted {
	var a accepted
	r.Accept(env, from, func(id ID, inserted bool, err error) {
		a.id, a.inserted, a.err = id, inserted, err
		a.calls++
	})
	return a
}

// A new blob goes to every neighbour except the one it came from; Half Echo links take only
// blobs that did not come from a neighbour; client links take none.
func TestFloodRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		from string // key of the origin link below, "" for nil (a blob the relay made)
		want map[string]int
	}{
		{"from a relay", "relayA", map[string]int{"relayB": 1, "echo": 1}},
		{"from a Full Echo link", "echo", map[string]int{"relayA": 1, "relayB": 1}},
		{"from a Half Echo link", "half", map[string]int{"relayA": 1, "relayB": 1, "echo": 1}},
		{"from a client", "client", map[string]int{"relayA": 1, "relayB": 1, "echo": 1, "half": 1}},
		{"made by the relay", "", map[string]int{"relayA": 1, "relayB": 1, "echo": 1, "half": 1}},
		{"from a relay not in the list", "stranger", map[string]int{"relayA": 1, "relayB": 1, "echo": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			links := map[string]*fakeLink{
				"relayA":   newFakeLink("fpA", LinkRelay),
				"relayB":   newFakeLink("fpB", LinkRelay),
				"echo":     newFakeLink("echo:full", LinkEcho),
				"half":     newFakeLink("echo:half", LinkHalfEcho),
				"client":   newFakeLink("", LinkClient),
				"stranger": newFakeLink("fpX", LinkRelay),
			}
			owner := linkList{links["relayA"], links["relayB"], links["echo"], links["half"], links["client"]}
			r := newFloodRelay(&memStore{}, owner)
			var from Link
			if tc.from != "" {
				from = links[tc.from]
			}
			env := floodEnv(t, "blob "+tc.name, time.Hour)
			if a := accept(r, env, from); a.err != nil || !a.inserted || a.calls != 1 || a.id != BlobID(env) {
				t.Fatalf("accept: %+v", a)
			}
			total := 0
			for key, l := range links {
				got := l.blobs()
				if len(got) != tc.want[key] {
					t.Errorf("%s (%s link) got %d copies, want %d", key, l.kind, len(got), tc.want[key])
				}
				for _, b := range got {
					if !bytes.Equal(b, env) {
						t.Errorf("%s got other bytes than the envelope", key)
					}
				}
				total += len(got)
			}
			s := r.Snapshot()
			if s.Relayed != int64(total) || s.QueueDrops != 0 || s.Stored != 1 || s.Received != 1 {
				t.Errorf("counters %+v; want relayed %d, no drops, 1 stored", s, total)
			}
		})
	}
}

// Only a new blob is flooded: the store is the seen-set, so the same envelope offered again,
// by anybody, goes nowhere and is counted as a duplicate.
func TestFloodOnlyNewBlobs(t *testing.T) {
	t.Parallel()
	a, b, c := newFakeLink("fpA", LinkRelay), newFakeLink("fpB", LinkRelay), newFakeLink("fpC", LinkRelay)
	client := newFakeLink("", LinkClient)
	r := newFloodRelay(&memStore{}, linkList{a, b, c})
	env := floodEnv(t, "once", time.Hour)
	if got := accept(r, env, client); !got.inserted || got.err != nil {
		t.Fatalf("first offer: %+v", got)
	}
	for _, from := range []Link{client, a, b, nil} {
		if got := accept(r, env, from); got.inserted || got.err != nil || got.calls != 1 {
			t.Fatalf("offer again from %v: %+v; want a silent duplicate", from, got)
		}
	}
	for _, l := range []*fakeLink{a, b, c} {
		if n := len(l.blobs()); n != 1 {
			t.Errorf("%s got %d copies, want 1", l.name, n)
		}
	}
	if s := r.Snapshot(); s.Stored != 1 || s.Duplicates != 4 || s.Relayed != 3 {
		t.Errorf("counters %+v; want 1 stored, 4 duplicates, 3 relayed", s)
	}
}

// One copy per neighbour identity, even when the owner lists two links of one neighbour, and
// none to either link of the neighbour the blob came from.
func TestFloodOneCopyPerNeighbour(t *testing.T) {
	t.Parallel()
	a1, a2 := newFakeLink("fpA", LinkRelay), newFakeLink("fpA", LinkRelay)
	b1, b2 := newFakeLink("fpB", LinkRelay), newFakeLink("fpB", LinkRelay)
	r := newFloodRelay(&memStore{}, linkList{a1, b1, a2, b2})
	accept(r, floodEnv(t, "from A", time.Hour), a2)
	if n := len(a1.blobs()) + len(a2.blobs()); n != 0 {
		t.Errorf("the origin neighbour got %d copies back", n)
	}
	if n := len(b1.blobs()) + len(b2.blobs()); n != 1 {
		t.Errorf("neighbour B got %d copies over its two links, want 1", n)
	}
	accept(r, floodEnv(t, "from a client", time.Hour), newFakeLink("", LinkClient))
	if na, nb := len(a1.blobs())+len(a2.blobs()), len(b1.blobs())+len(b2.blobs()); na != 1 || nb != 2 {
		t.Errorf("after a client's blob A holds %d and B %d copies, want 1 and 2", na, nb)
	}
	// A Half Echo link skipped for a neighbour's blob does not stand in for a relay link that
	// shares its name: the relay link still gets the blob.
	h, rl := newFakeLink("shared", LinkHalfEcho), newFakeLink("shared", LinkRelay)
	r2 := newFloodRelay(&memStore{}, linkList{h, rl})
	accept(r2, floodEnv(t, "neighbour blob", time.Hour), a1)
	if len(h.blobs()) != 0 || len(rl.blobs()) != 1 {
		t.Errorf("half echo got %d, relay link %d; want 0 and 1", len(h.blobs()), len(rl.blobs()))
	}
}

// Invalid envelopes are refused before the store and never flooded, each counted under its
// code.
func TestFloodRefusesInvalid(t *testing.T) {
	t.Parallel()
	big := floodEnv(t, string(bytes.Repeat([]byte{'x'}, 600)), time.Hour)
	for _, tc := range []struct {
		name string
		env  []byte
		want *Error
	}{
		{"expired", floodEnv(t, "old", -time.Second), ErrExpired},
		{"expires now", floodEnv(t, "now", 0), ErrExpired},
		{"too far in the future", floodEnv(t, "far", DefaultMaxTTL+DefaultMaxSkew+time.Minute), ErrTooFarFuture},
		{"oversized", big, ErrTooLarge},
		{"malformed", []byte{1, 0, 0}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newFakeLink("fpB", LinkRelay)
			st := &memStore{}
			r := NewRelay(Config{Store: st, Now: func() time.Time { return floodNow },
				Limits: Limits{MaxBlob: 512, MaxTTL: DefaultMaxTTL, MaxSkew: DefaultMaxSkew}})
			r.SetNeighbours(linkList{b})
			for _, from := range []Link{newFakeLink("fpA", LinkRelay), newFakeLink("", LinkClient)} {
				got := accept(r, tc.env, from)
				if !errors.Is(got.err, tc.want) || got.inserted || got.calls != 1 {
					t.Fatalf("from a %s link: %+v, want %v", from.Kind(), got, tc.want)
				}
			}
			if n := len(b.blobs()); n != 0 || st.len() != 0 {
				t.Errorf("%d copies flooded, %d stored; want none", n, st.len())
			}
			s := r.Snapshot()
			if s.Rejects[tc.want.Code.String()] != 2 || s.Relayed != 0 || s.Received != 2 {
				t.Errorf("counters %+v; want 2 %s rejects and nothing relayed", s, tc.want.Code)
			}
		})
	}
	// The limit itself is accepted.
	r := NewRelay(Config{Store: &memStore{}, Now: func() time.Time { return floodNow },
		Limits: Limits{MaxBlob: len(big), MaxTTL: DefaultMaxTTL, MaxSkew: DefaultMaxSkew}})
	b := newFakeLink("fpB", LinkRelay)
	r.SetNeighbours(linkList{b})
	if got := accept(r, big, nil); got.err != nil || len(b.blobs()) != 1 {
		t.Errorf("an envelope of exactly max_blob: %+v, %d flooded", got, len(b.blobs()))
	}
}

// A full queue drops the blob for that link only, counts it under QueueDrops, and changes
// nothing for the store, the sender or the other links.
func TestFloodQueueFull(t *testing.T) {
	t.Parallel()
	full, ok := newFakeLink("fpFull", LinkRelay), newFakeLink("fpOK", LinkRelay)
	full.room = 1
	echoFull := newFakeLink("echo:busy", LinkEcho)
	echoFull.room = 0
	r := newFloodRelay(&memStore{}, linkList{full, ok, echoFull})
	client := newFakeLink("", LinkClient)
	for i := range 3 {
		if got := accept(r, floodEnv(t, fmt.Sprint("blob ", i), time.Hour), client); got.err != nil || !got.inserted {
			t.Fatalf("blob %d: %+v; a neighbour's full queue must not fail the sender", i, got)
		}
	}
	if len(full.blobs()) != 1 || len(ok.blobs()) != 3 || len(echoFull.blobs()) != 0 {
		t.Errorf("full link %d, free link %d, full Echo link %d; want 1, 3, 0", len(full.blobs()), len(ok.blobs()), len(echoFull.blobs()))
	}
	if s := r.Snapshot(); s.QueueDrops != 5 || s.Relayed != 4 || s.Stored != 3 {
		t.Errorf("counters %+v; want 5 queue drops, 4 relayed, 3 stored", s)
	}
}

// A store that is full still floods a new BLOB from a neighbour once (the mesh stays
// connected), remembers it so the same blob coming round again is not flooded twice, and does
// not flood a client's blob it could not keep: the client is told store_full and may retry.
func TestFloodStoreFull(t *testing.T) {
	t.Parallel()
	a, b, e := newFakeLink("fpA", LinkRelay), newFakeLink("fpB", LinkRelay), newFakeLink("echo:1", LinkEcho)
	h := newFakeLink("echo:half", LinkHalfEcho)
	st := &memStore{max: 1}
	r := newFloodRelay(st, linkList{a, b, e, h})
	accept(r, floodEnv(t, "fills the store", time.Hour), nil)
	base := map[*fakeLink]int{a: len(a.blobs()), b: len(b.blobs()), e: len(e.blobs()), h: len(h.blobs())}

	env := floodEnv(t, "does not fit", time.Hour)
	if got := accept(r, env, a); !errors.Is(got.err, ErrStoreFull) || got.inserted {
		t.Fatalf("from a neighbour: %+v, want store_full", got)
	}
	if got := accept(r, env, b); !errors.Is(got.err, ErrStoreFull) {
		t.Fatalf("back from the other neighbour: %+v, want store_full", got)
	}
	if got := accept(r, floodEnv(t, "client blob", time.Hour), newFakeLink("", LinkClient)); !errors.Is(got.err, ErrStoreFull) {
		t.Fatalf("from a client: %+v, want store_full", got)
	}
	want := map[*fakeLink]int{a: 0, b: 1, e: 1, h: 0}
	for l, n := range want {
		if got := len(l.blobs()) - base[l]; got != n {
			t.Errorf("%s got %d copies of unstored blobs, want %d", l.name, got, n)
		}
	}
	if s := r.Snapshot(); s.FloodedUnstored != 1 || s.Rejects["store_full"] != 3 || s.Stored != 1 {
		t.Errorf("counters %+v; want 1 flooded unstored, 3 store_full, 1 stored", s)
	}
}

// The relay keeps no record of its own: every flood takes the owner's current list, and a
// relay without an owner floods to nobody.
func TestFloodAsksTheOwner(t *testing.T) {
	t.Parallel()
	a, b := newFakeLink("fpA", LinkRelay), newFakeLink("fpB", LinkRelay)
	owner := &changingOwner{}
	r := newFloodRelay(&memStore{}, nil)
	if got := accept(r, floodEnv(t, "before the owner", time.Hour), nil); got.err != nil || !got.inserted {
		t.Fatalf("accept without an owner: %+v", got)
	}
	if s := r.Snapshot(); s.Relayed != 0 || s.Neighbours != 0 {
		t.Fatalf("without an owner: %+v", s)
	}
	r.SetNeighbours(owner)
	owner.set(linkList{a, b})
	if n := r.Snapshot().Neighbours; n != 2 {
		t.Errorf("Snapshot counts %d neighbours, want the owner's 2", n)
	}
	accept(r, floodEnv(t, "both", time.Hour), nil)
	owner.set(linkList{a}) // B's link went down
	accept(r, floodEnv(t, "only A", time.Hour), nil)
	if len(a.blobs()) != 2 || len(b.blobs()) != 1 {
		t.Errorf("A got %d and B %d; want 2 and 1 (B gone from the owner's list)", len(a.blobs()), len(b.blobs()))
	}
	if n := r.Snapshot().Neighbours; n != 1 {
		t.Errorf("Snapshot counts %d neighbours, want 1", n)
	}
}

type changingOwner struct {
	mu sync.Mutex // guards ls
	ls linkList
}

func (o *changingOwner) set(ls linkList) { o.mu.Lock(); o.ls = ls; o.mu.Unlock() }
func (o *changingOwner) FloodLinks() []Link {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ls
}

func TestLinkKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[LinkKind]string{LinkClient: "client", LinkRelay: "relay", LinkEcho: "echo",
		LinkHalfEcho: "half_echo", LinkKind(9): "link_kind_9"} {
		if got := k.String(); got != want {
			t.Errorf("LinkKind(%d) = %q, want %q", k, got, want)
		}
	}
}

// SourceOf names who brought a blob for the store's fair shares: by the link's source, hashed
// (the store keeps no client address), zero for none.
func TestSourceOf(t *testing.T) {
	a, b := &fakeLink{name: "a"}, &fakeLink{name: "b"}
	if SourceOf(nil) != ([8]byte{}) || SourceOf(a) == ([8]byte{}) || SourceOf(a) == SourceOf(b) || SourceOf(a) != SourceOf(&fakeLink{name: "a"}) {
		t.Fatalf("SourceOf: nil %x, a %x, b %x", SourceOf(nil), SourceOf(a), SourceOf(b))
	}
}
