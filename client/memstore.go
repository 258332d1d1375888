package client

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

// MemStore is a Store in memory: for tests, and for the browser build until IndexedDB.
// Nothing survives Close.
type MemStore struct {
	mu       sync.Mutex
	friends  map[seal.Fingerprint]*Friend
	invites  map[[seal.InviteSecretSize]byte]*InviteRecord
	cursors  map[[2]string]uint64
	seen     map[seenKey]seenVal
	messages []*Message
	chunks   map[chunkKey]map[uint32][]byte
	outbox   []*OutboxEntry
	nextOut  int64
	sessions map[seal.Fingerprint]*SessionRecord
	groups   map[[16]byte][]byte // memstore_groups.go
}

type seenKey struct {
	sender seal.Fingerprint
	msg    seal.MessageID
}
type seenVal struct {
	blob [32]byte
	at   time.Time
}
type chunkKey struct {
	sender seal.Fingerprint
	file   [16]byte
	count  uint32
	size   uint64
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{friends: map[seal.Fingerprint]*Friend{}, invites: map[[seal.InviteSecretSize]byte]*InviteRecord{},
		cursors: map[[2]string]uint64{}, seen: map[seenKey]seenVal{}, chunks: map[chunkKey]map[uint32][]byte{},
		sessions: map[seal.Fingerprint]*SessionRecord{}}
}

var _ Store = (*MemStore)(nil)

func (s *MemStore) Friends() ([]*Friend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Friend, 0, len(s.friends))
	for _, f := range s.friends {
		c := *f
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *MemStore) PutFriend(f *Friend) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fp, o := range s.friends {
		if o.Name == f.Name && fp != f.Fingerprint() {
			return ErrNameTaken
		}
	}
	c := *f
	s.friends[f.Fingerprint()] = &c
	return nil
}

func (s *MemStore) RemoveFriend(fp seal.Fingerprint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.friends, fp)
	delete(s.sessions, fp)
	return nil
}

func (s *MemStore) Session(fp seal.Fingerprint) (*SessionRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.sessions[fp]
	if !ok {
		return nil, nil
	}
	c := *r
	c.Start, c.State, c.Prev = bytes.Clone(r.Start), bytes.Clone(r.State), bytes.Clone(r.Prev)
	return &c, nil
}

// Sessions lists the sessions (for a store that snapshots a MemStore, as the browser's).
func (s *MemStore) Sessions() []*SessionRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*SessionRecord, 0, len(s.sessions))
	for _, r := range s.sessions {
		c := *r
		c.Start, c.State, c.Prev = bytes.Clone(r.Start), bytes.Clone(r.State), bytes.Clone(r.Prev)
		out = append(out, &c)
	}
	return out
}

func (s *MemStore) PutSession(r *SessionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *r
	c.Start, c.State, c.Prev = bytes.Clone(r.Start), bytes.Clone(r.State), bytes.Clone(r.Prev)
	s.sessions[r.Friend] = &c
	return nil
}

func (s *MemStore) Invites() ([]*InviteRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*InviteRecord
	for _, r := range s.invites {
		c := *r
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

func (s *MemStore) PutInvite(r *InviteRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *r
	s.invites[r.Invite.Secret] = &c
	return nil
}

func (s *MemStore) DropInvite(secret [seal.InviteSecretSize]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.invites, secret)
	return nil
}

func (s *MemStore) Cursor(relay, scope string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[[2]string{relay, scope}], nil
}

func (s *MemStore) SetCursor(relay, scope string, c uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors[[2]string{relay, scope}] = c
	return nil
}

func (s *MemStore) MarkSeen(sender seal.Fingerprint, msg seal.MessageID, blob [32]byte, at time.Time) (Seen, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := seenKey{sender, msg}
	if v, ok := s.seen[k]; ok {
		if v.blob == blob {
			return SeenSameBlob, nil
		}
		return SeenReplay, nil
	}
	s.seen[k] = seenVal{blob, at}
	return SeenNew, nil
}

func (s *MemStore) PruneSeen(before time.Time, max int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	type kv struct {
		k seenKey
		t time.Time
	}
	var all []kv
	for k, v := range s.seen {
		if v.at.Before(before) {
			delete(s.seen, k)
		} else {
			all = append(all, kv{k, v.at})
		}
	}
	if len(all) > max {
		sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
		for _, e := range all[:len(all)-max] {
			delete(s.seen, e.k)
		}
	}
	return nil
}

// SeenCount is the size of the seen set, for tests.
func (s *MemStore) SeenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *MemStore) AddMessage(m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *m
	s.messages = append(s.messages, &c)
	return nil
}

func (s *MemStore) Messages(friend *seal.Fingerprint, last int) ([]*Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Message
	for _, m := range s.messages {
		if friend == nil || m.Friend == *friend {
			c := *m
			out = append(out, &c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if len(out) > last {
		out = out[len(out)-last:]
	}
	return out, nil
}

func (s *MemStore) AddChunk(sender seal.Fingerprint, c seal.FileChunk, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := chunkKey{sender, c.FileID, c.Count, c.Size}
	m := s.chunks[k]
	if m == nil {
		m = map[uint32][]byte{}
		s.chunks[k] = m
	}
	if _, ok := m[c.Index]; !ok {
		m[c.Index] = bytes.Clone(c.Data)
	}
	return len(m), nil
}

func (s *MemStore) TakeChunks(sender seal.Fingerprint, c seal.FileChunk) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := chunkKey{sender, c.FileID, c.Count, c.Size}
	m := s.chunks[k]
	delete(s.chunks, k)
	idx := make([]uint32, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	out := make([][]byte, 0, len(idx))
	for _, i := range idx {
		out = append(out, m[i])
	}
	return out, nil
}

func (s *MemStore) AddOutbox(es []*OutboxEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range es {
		s.nextOut++
		e.ID = s.nextOut
		c := *e
		s.outbox = append(s.outbox, &c)
	}
	return nil
}

func (s *MemStore) Outbox() ([]*OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*OutboxEntry, 0, len(s.outbox))
	for _, e := range s.outbox {
		c := *e
		out = append(out, &c)
	}
	return out, nil
}

func (s *MemStore) UpdateOutbox(e *OutboxEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.outbox {
		if o.ID == e.ID {
			o.Tries, o.LastErr, o.LastTry = e.Tries, e.LastErr, e.LastTry
		}
	}
	return nil
}

func (s *MemStore) DropOutbox(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = slices.DeleteFunc(s.outbox, func(e *OutboxEntry) bool { return e.ID == id })
	return nil
}

func (s *MemStore) Close() error { return nil }
