package group

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MaxOrphans bounds the control payloads a Set keeps for groups it does not know yet (what
// came pairwise before the admin's welcome).
const MaxOrphans = 1024

// Set is one member's groups: it routes control payloads to their group, joins a group when
// its welcome comes, and keeps what came before the welcome.
type Set struct {
	cfg Config
	// Accept decides whether to join a group the welcome of admin names; nil joins every one
	// (the transport only delivers payloads from friends).
	Accept func(admin Fingerprint, c *Commit) bool

	mu      sync.Mutex
	groups  map[ID]*Group
	orphans []orphan
	// tombs: for groups this member never joined, the newest commit that did not name it (it
	// was added and removed before a welcome came); an older welcome must not join.
	tombs map[ID]uint32
}

type orphan struct {
	id      ID
	from    Fingerprint
	payload []byte
}

// NewSet makes an empty set of groups for cfg.Self.
func NewSet(cfg Config) *Set { return &Set{cfg: cfg, groups: map[ID]*Group{}, tombs: map[ID]uint32{}} }

// Create makes a group with this member as its admin (see Create).
func (s *Set) Create(ctx context.Context, tr Transport, name string, policy Policy, others []Member, now time.Time) (*Group, error) {
	g, err := Create(ctx, tr, s.cfg, name, policy, others, now)
	if g != nil {
		s.mu.Lock()
		s.groups[g.ID()] = g
		s.mu.Unlock()
	}
	return g, err
}

// Restore adds a group from a state made by Group.MarshalState (the client's store, at start).
func (s *Set) Restore(state []byte) (*Group, error) {
	g, err := RestoreGroup(s.cfg, state)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[g.id] != nil {
		return nil, fmt.Errorf("failed to restore group: %w: restored twice", ErrMalformed)
	}
	s.groups[g.id] = g
	return g, nil
}

// Group returns the group with id, or nil.
func (s *Set) Group(id ID) *Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups[id]
}

// Groups lists the groups, sorted by ID.
func (s *Set) Groups() []*Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *Group) int { return bytes.Compare(a.id[:], b.id[:]) })
	return out
}

// HandleControl routes a pairwise control payload: to its group, or, for an unknown group, a
// welcome joins it (then the payloads that came before it are applied) and anything else
// waits (at most MaxOrphans). A member removed from a group joins it again with a newer
// commit that names it, from a clean state.
func (s *Set) HandleControl(ctx context.Context, tr Transport, from Fingerprint, payload []byte, now time.Time) (Update, error) {
	kind, id, err := PeekControl(payload)
	if err != nil {
		return Update{}, fmt.Errorf("failed to read group control payload: %w", err)
	}
	s.mu.Lock()
	g := s.groups[id]
	if (g == nil || g.Gone()) && kind != KindCommit {
		// Before the welcome (or, once removed, before the welcome back): kept for it.
		if len(s.orphans) == MaxOrphans {
			s.orphans = s.orphans[1:]
		}
		s.orphans = append(s.orphans, orphan{id: id, from: from, payload: slices.Clone(payload)})
		s.mu.Unlock()
		return Update{}, nil
	}
	s.mu.Unlock()
	var c *Commit
	if g != nil {
		if kind != KindCommit || !g.Gone() {
			return g.HandleControl(ctx, tr, from, payload, now)
		}
		// Removed earlier: a newer commit that names this member again is a new welcome.
		if c, err = ParseCommit(payload); err != nil || c.Epoch <= g.Epoch() || c.member(s.cfg.Self) < 0 {
			return g.HandleControl(ctx, tr, from, payload, now)
		}
	} else if c, err = ParseCommit(payload); err != nil {
		return Update{}, fmt.Errorf("failed to join group: %w", err)
	} else if s.tomb(c) {
		var upd Update
		upd.refuse(fmt.Errorf("%w: a commit of a group this member was removed from before it joined", ErrNotMember))
		return upd, nil
	}
	if s.Accept != nil && !s.Accept(from, c) {
		return Update{}, fmt.Errorf("failed to join group: %w", ErrDeclined)
	}
	g, upd, err := Join(ctx, tr, s.cfg, from, payload, now)
	if g == nil {
		return upd, err
	}
	s.mu.Lock()
	if other := s.groups[id]; other != nil && !other.Gone() { // joined concurrently
		s.mu.Unlock()
		return other.HandleControl(ctx, tr, from, payload, now)
	}
	s.groups[id] = g
	var mine []orphan
	s.orphans = slices.DeleteFunc(s.orphans, func(o orphan) bool {
		if o.id == id {
			mine = append(mine, o)
			return true
		}
		return false
	})
	s.mu.Unlock()
	errs := []error{err}
	for _, o := range mine {
		u, err := g.HandleControl(ctx, tr, o.from, o.payload, now)
		upd.merge(u)
		errs = append(errs, err)
	}
	sortMessages(upd.Messages)
	return upd, errors.Join(errs...)
}

// tomb reports whether c, of a group this member never joined, must not make it join: c does
// not name it (remembered), or a newer commit that did not name it came first.
func (s *Set) tomb(c *Commit) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.member(s.cfg.Self) < 0 {
		s.tombs[c.Group] = max(s.tombs[c.Group], c.Epoch)
		return true
	}
	return c.Epoch <= s.tombs[c.Group]
}

// Sync fetches and opens the messages of every group this member is still in.
func (s *Set) Sync(ctx context.Context, tr Transport, now time.Time) (map[ID]Update, error) {
	out := map[ID]Update{}
	for _, g := range s.Groups() {
		if g.Gone() {
			continue
		}
		u, err := g.Sync(ctx, tr, now)
		if err != nil {
			return out, err
		}
		out[g.ID()] = u
	}
	return out, nil
}
