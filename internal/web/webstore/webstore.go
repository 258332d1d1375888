// Package webstore is the web client's history: a client.Store held in memory (it embeds
// client.MemStore) that can be written out whole as one snapshot sealed under the identity's
// history key, and read back. The browser build keeps that snapshot in IndexedDB after every
// change; received files are not in it (the page keeps each one as its own sealed record).
//
// Who calls it: internal/web/wasm. It builds for js/wasm and natively (its tests run here).
//
// What it deliberately does not do: touch IndexedDB (the worker's JavaScript does, with bytes
// only), or keep anything in clear: Snapshot returns sealed bytes, Restore refuses bytes that
// do not open under the key (client.ErrCorrupt).
//
// Snapshot layout: client.Vault.Seal("web-history-v1", nil, JSON of snapshot below). The
// identity itself is not in it: it lives beside it as an identity file (PROTOCOL.md 7.6)
// protected by the user's passphrase, which is also the backup the settings export.
package webstore

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
)

const snapshotLabel = "web-history-v1"

// Store is a client.Store whose state can be snapshotted. The cursors, the seen set, the file
// chunks waiting for their siblings and the group states by ID, which MemStore does not list,
// are mirrored here. A method added to client.Store later is inherited from MemStore and kept
// in memory only, until it is added here (TestSnapshotCoversTheStore lists the methods).
type Store struct {
	*client.MemStore

	mu      sync.Mutex // guards the mirrors and changed
	cursors map[[2]string]uint64
	seen    map[seenKey]seenVal
	chunks  map[chunkKey]map[uint32][]byte
	groups  map[[16]byte][]byte // PutGroupState's, by group ID (GroupStates lists no IDs)
	changed func()              // called after every change, outside mu
}

type seenKey struct {
	Sender seal.Fingerprint
	Msg    seal.MessageID
}

type seenVal struct {
	Blob [32]byte
	At   time.Time
}

type chunkKey struct {
	Sender seal.Fingerprint
	File   [16]byte
	Count  uint32
	Size   uint64
}

// New returns an empty Store; changed (nil: none) is called after every change.
func New(changed func()) *Store {
	return &Store{MemStore: client.NewMemStore(), cursors: map[[2]string]uint64{}, seen: map[seenKey]seenVal{},
		chunks: map[chunkKey]map[uint32][]byte{}, groups: map[[16]byte][]byte{}, changed: changed}
}

func (s *Store) touch() {
	s.mu.Lock()
	fn := s.changed
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// PutFriend implements client.Store.
func (s *Store) PutFriend(f *client.Friend) error {
	err := s.MemStore.PutFriend(f)
	s.touch()
	return err
}

// RemoveFriend implements client.Store.
func (s *Store) RemoveFriend(fp seal.Fingerprint) error {
	err := s.MemStore.RemoveFriend(fp)
	s.touch()
	return err
}

// PutSession implements client.Store.
func (s *Store) PutSession(r *client.SessionRecord) error {
	err := s.MemStore.PutSession(r)
	s.touch()
	return err
}

// PutGroupState implements client.Store.
func (s *Store) PutGroupState(id [16]byte, state []byte) error {
	err := s.MemStore.PutGroupState(id, state)
	s.mu.Lock()
	s.groups[id] = slices.Clone(state)
	s.mu.Unlock()
	s.touch()
	return err
}

// PutInvite implements client.Store.
func (s *Store) PutInvite(r *client.InviteRecord) error {
	err := s.MemStore.PutInvite(r)
	s.touch()
	return err
}

// DropInvite implements client.Store.
func (s *Store) DropInvite(secret [seal.InviteSecretSize]byte) error {
	err := s.MemStore.DropInvite(secret)
	s.touch()
	return err
}

// SetCursor implements client.Store.
func (s *Store) SetCursor(relay, scope string, c uint64) error {
	err := s.MemStore.SetCursor(relay, scope, c)
	s.mu.Lock()
	s.cursors[[2]string{relay, scope}] = c
	s.mu.Unlock()
	s.touch()
	return err
}

// MarkSeen implements client.Store.
func (s *Store) MarkSeen(sender seal.Fingerprint, msg seal.MessageID, blob [32]byte, at time.Time) (client.Seen, error) {
	r, err := s.MemStore.MarkSeen(sender, msg, blob, at)
	if err == nil && r == client.SeenNew {
		s.mu.Lock()
		s.seen[seenKey{sender, msg}] = seenVal{blob, at}
		s.mu.Unlock()
		s.touch()
	}
	return r, err
}

// PruneSeen implements client.Store.
func (s *Store) PruneSeen(before time.Time, max int) error {
	err := s.MemStore.PruneSeen(before, max)
	s.mu.Lock()
	n := len(s.seen)
	for k, v := range s.seen {
		if v.At.Before(before) {
			delete(s.seen, k)
		}
	}
	if len(s.seen) > max {
		type kv struct {
			k seenKey
			v seenVal
		}
		all := make([]kv, 0, len(s.seen))
		for k, v := range s.seen {
			all = append(all, kv{k, v})
		}
		slices.SortFunc(all, func(a, b kv) int { return a.v.At.Compare(b.v.At) })
		for _, e := range all[:len(all)-max] {
			delete(s.seen, e.k)
		}
	}
	pruned := len(s.seen) != n
	s.mu.Unlock()
	if pruned {
		s.touch()
	}
	return err
}

// AddMessage implements client.Store.
func (s *Store) AddMessage(m *client.Message) error {
	err := s.MemStore.AddMessage(m)
	s.touch()
	return err
}

// AddChunk implements client.Store.
func (s *Store) AddChunk(sender seal.Fingerprint, c seal.FileChunk, at time.Time) (int, error) {
	n, err := s.MemStore.AddChunk(sender, c, at)
	s.mu.Lock()
	k := chunkKey{sender, c.FileID, c.Count, c.Size}
	if s.chunks[k] == nil {
		s.chunks[k] = map[uint32][]byte{}
	}
	if _, ok := s.chunks[k][c.Index]; !ok {
		s.chunks[k][c.Index] = slices.Clone(c.Data)
	}
	s.mu.Unlock()
	s.touch()
	return n, err
}

// TakeChunks implements client.Store.
func (s *Store) TakeChunks(sender seal.Fingerprint, c seal.FileChunk) ([][]byte, error) {
	out, err := s.MemStore.TakeChunks(sender, c)
	s.mu.Lock()
	delete(s.chunks, chunkKey{sender, c.FileID, c.Count, c.Size})
	s.mu.Unlock()
	s.touch()
	return out, err
}

// AddOutbox implements client.Store.
func (s *Store) AddOutbox(es []*client.OutboxEntry) error {
	err := s.MemStore.AddOutbox(es)
	s.touch()
	return err
}

// UpdateOutbox implements client.Store.
func (s *Store) UpdateOutbox(e *client.OutboxEntry) error {
	err := s.MemStore.UpdateOutbox(e)
	s.touch()
	return err
}

// DropOutbox implements client.Store.
func (s *Store) DropOutbox(id int64) error {
	err := s.MemStore.DropOutbox(id)
	s.touch()
	return err
}

// snapshot is the JSON inside the sealed bytes.
type snapshot struct {
	Version  int
	Friends  []friendRec
	Invites  []inviteRec
	Cursors  []cursorRec
	Seen     []seenRec
	Messages []*client.Message
	Chunks   []chunkRec
	Outbox   []*client.OutboxEntry
	Sessions []*client.SessionRecord // the ratchet sessions, one per friend
	Groups   []groupRec
}

type groupRec struct {
	ID    [16]byte
	State []byte
}

type friendRec struct {
	Name                     string
	Bundle                   []byte
	Pair                     []byte
	TheirRelay, TheirRelayFP string
	MyRelay, MyRelayFP       string
	Added                    time.Time
	Blocked                  bool
}

type inviteRec struct {
	Code             string
	RelayFP          string
	Name             string
	Created, Expires time.Time
	State            client.InviteState
	Acceptor         seal.Fingerprint
	Group            [16]byte // a group invite's group; zero in snapshots from before groups
}

type cursorRec struct {
	Relay, Scope string
	Cursor       uint64
}

type seenRec struct {
	seenKey
	seenVal
}

type chunkRec struct {
	chunkKey
	Parts map[uint32][]byte
}

// Snapshot returns the whole history sealed under key (the identity's history key).
func (s *Store) Snapshot(key [32]byte) ([]byte, error) {
	var sn snapshot
	sn.Version = 1
	fs, err := s.MemStore.Friends()
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		sn.Friends = append(sn.Friends, friendRec{f.Name, f.Bundle.Bytes(), f.Pair, f.TheirRelay, f.TheirRelayFP,
			f.MyRelay, f.MyRelayFP, f.Added, f.Blocked})
	}
	invs, err := s.MemStore.Invites()
	if err != nil {
		return nil, err
	}
	for _, r := range invs {
		sn.Invites = append(sn.Invites, inviteRec{r.Invite.Code(), r.RelayFP, r.Name, r.Created, r.Expires, r.State, r.Acceptor, r.Group})
	}
	if sn.Messages, err = s.MemStore.Messages(nil, 1<<30); err != nil {
		return nil, err
	}
	if sn.Outbox, err = s.MemStore.Outbox(); err != nil {
		return nil, err
	}
	sn.Sessions = s.MemStore.Sessions()
	s.mu.Lock()
	for k, c := range s.cursors {
		sn.Cursors = append(sn.Cursors, cursorRec{k[0], k[1], c})
	}
	for k, v := range s.seen {
		sn.Seen = append(sn.Seen, seenRec{k, v})
	}
	for k, parts := range s.chunks {
		sn.Chunks = append(sn.Chunks, chunkRec{k, parts})
	}
	for id, st := range s.groups {
		sn.Groups = append(sn.Groups, groupRec{id, st})
	}
	b, err := json.Marshal(sn)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("failed to encode history: %w", err)
	}
	return client.NewVault(key).Seal(snapshotLabel, nil, b), nil
}

// Restore returns a Store holding what Snapshot sealed under key.
func Restore(key [32]byte, sealed []byte, changed func()) (*Store, error) {
	b, err := client.NewVault(key).Open(snapshotLabel, nil, sealed)
	if err != nil {
		return nil, fmt.Errorf("failed to open history: %w", err)
	}
	var sn snapshot
	if err := json.Unmarshal(b, &sn); err != nil {
		return nil, fmt.Errorf("failed to decode history: %w: %w", client.ErrCorrupt, err)
	}
	if sn.Version != 1 {
		return nil, fmt.Errorf("failed to decode history: %w: version %d", client.ErrCorrupt, sn.Version)
	}
	s := New(nil)
	for _, f := range sn.Friends {
		bundle, err := seal.ParseBundle(f.Bundle)
		if err != nil {
			return nil, fmt.Errorf("failed to decode history: friend %q: %w", f.Name, err)
		}
		if err := s.PutFriend(&client.Friend{Name: f.Name, Bundle: bundle, Pair: f.Pair, TheirRelay: f.TheirRelay,
			TheirRelayFP: f.TheirRelayFP, MyRelay: f.MyRelay, MyRelayFP: f.MyRelayFP, Added: f.Added, Blocked: f.Blocked}); err != nil {
			return nil, err
		}
	}
	for _, r := range sn.Invites {
		inv, err := seal.ParseInviteCode(r.Code)
		if err != nil {
			return nil, fmt.Errorf("failed to decode history: an invite: %w", err)
		}
		if err := s.PutInvite(&client.InviteRecord{Invite: inv, RelayFP: r.RelayFP, Name: r.Name, Created: r.Created,
			Expires: r.Expires, State: r.State, Acceptor: r.Acceptor, Group: r.Group}); err != nil {
			return nil, err
		}
	}
	for _, c := range sn.Cursors {
		s.SetCursor(c.Relay, c.Scope, c.Cursor)
	}
	for _, e := range sn.Seen {
		s.MarkSeen(e.Sender, e.Msg, e.Blob, e.At)
	}
	for _, m := range sn.Messages {
		s.AddMessage(m)
	}
	for _, c := range sn.Chunks {
		for i, d := range c.Parts {
			s.AddChunk(c.Sender, seal.FileChunk{FileID: c.File, Count: c.Count, Size: c.Size, Index: i, Data: d}, time.Time{})
		}
	}
	for _, r := range sn.Sessions {
		if err := s.PutSession(r); err != nil {
			return nil, err
		}
	}
	for _, g := range sn.Groups {
		if err := s.PutGroupState(g.ID, g.State); err != nil {
			return nil, err
		}
	}
	if len(sn.Outbox) > 0 {
		for _, e := range sn.Outbox {
			e.ID = 0
		}
		s.AddOutbox(sn.Outbox)
	}
	s.SetChanged(changed)
	return s, nil
}

// SetChanged replaces the function called after every change (nil: none).
func (s *Store) SetChanged(changed func()) {
	s.mu.Lock()
	s.changed = changed
	s.mu.Unlock()
}
