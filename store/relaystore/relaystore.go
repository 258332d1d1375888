// Package relaystore wires a *store.Store into the shapes the protocol asks of it:
// echo.Store (insert with durable callback, scan by cursor) and echo.SetStore (key ranges for
// set reconciliation). It is the only place that knows both packages; store itself imports no
// package of this project and echo none of the storage.
package relaystore

import (
	"math"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/store"
)

// Store adapts a *store.Store; it implements echo.Store and echo.SetStore.
type Store struct{ S *store.Store }

// New returns the adapter for s.
func New(s *store.Store) Store { return Store{S: s} }

// Insert implements echo.Store: done runs after the commit.
func (a Store) Insert(id, tag [32]byte, source [8]byte, expiry int64, env []byte, done func(bool, error)) {
	a.S.PutAsync(store.Blob{ID: id, Tag: tag, Source: source, Expiry: expiry, Envelope: env}, done)
}

// Scan implements echo.Store.
func (a Store) Scan(tags [][32]byte, after uint64, limit, maxBytes int, fn func(uint64, []byte)) (uint64, bool, error) {
	items, next, more, err := a.S.Fetch(tags, after, limit, maxBytes)
	if err != nil {
		return after, false, err
	}
	for _, it := range items {
		fn(it.Seq, it.Envelope)
	}
	return next, more, nil
}

// LastSeq is the sequence number of the newest blob (echo.Relay.LastSeq).
func (a Store) LastSeq() uint64 { return a.S.LastSeq() }

// storeKey converts a reconciliation key; expiries beyond int64 (only the end of the key
// space) clamp to the largest one.
func storeKey(k echo.Key) (int64, [32]byte) {
	if k.Expiry > math.MaxInt64 {
		return math.MaxInt64, k.ID
	}
	return int64(k.Expiry), k.ID
}

// Keys implements echo.SetStore.
func (a Store) Keys(from, to echo.Key, limit int) ([]echo.Key, error) {
	fe, fi := storeKey(from)
	te, ti := storeKey(to)
	ks, err := a.S.RangeIDs(fe, fi, te, ti, limit)
	if err != nil {
		return nil, err
	}
	out := make([]echo.Key, len(ks))
	for i, k := range ks {
		out[i] = echo.Key{Expiry: uint64(k.Expiry), ID: k.ID}
	}
	return out, nil
}

// Count implements echo.SetStore.
func (a Store) Count(from, to echo.Key) (int, error) {
	fe, fi := storeKey(from)
	te, ti := storeKey(to)
	return a.S.RangeCount(fe, fi, te, ti)
}

// Get implements echo.SetStore.
func (a Store) Get(id echo.ID) ([]byte, bool, error) {
	b, ok, err := a.S.Get(id)
	return b.Envelope, ok, err
}

// Has implements echo.SetStore.
func (a Store) Has(id echo.ID) (bool, error) { return a.S.Has(id) }

var (
	_ echo.Store    = Store{}
	_ echo.SetStore = Store{}
)
