package main

import (
	"math"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/store"
)

// storeAdapter gives *store.Store the shape of echo.Store (echo and store do not import each
// other; cmd wires them).
type storeAdapter struct{ s *store.Store }

func (a storeAdapter) Insert(id, tag [32]byte, expiry int64, env []byte, done func(bool, error)) {
	a.s.PutAsync(store.Blob{ID: id, Tag: tag, Expiry: expiry, Envelope: env}, done)
}

func (a storeAdapter) Scan(tags [][32]byte, after uint64, limit, maxBytes int, fn func(uint64, []byte)) (uint64, bool, error) {
	items, next, more, err := a.s.Fetch(tags, after, limit, maxBytes)
	if err != nil {
		return after, false, err
	}
	for _, it := range items {
		fn(it.Seq, it.Envelope)
	}
	return next, more, nil
}

// setAdapter gives *store.Store the shape of echo.SetStore for set reconciliation.
type setAdapter struct{ s *store.Store }

// storeKey converts a reconciliation key; expiries beyond int64 (only the end of the key
// space) clamp to the largest one.
func storeKey(k echo.Key) (int64, [32]byte) {
	if k.Expiry > math.MaxInt64 {
		return math.MaxInt64, k.ID
	}
	return int64(k.Expiry), k.ID
}

func (a setAdapter) Keys(from, to echo.Key, limit int) ([]echo.Key, error) {
	fe, fi := storeKey(from)
	te, ti := storeKey(to)
	ks, err := a.s.RangeIDs(fe, fi, te, ti, limit)
	if err != nil {
		return nil, err
	}
	out := make([]echo.Key, len(ks))
	for i, k := range ks {
		out[i] = echo.Key{Expiry: uint64(k.Expiry), ID: k.ID}
	}
	return out, nil
}

func (a setAdapter) Count(from, to echo.Key) (int, error) {
	fe, fi := storeKey(from)
	te, ti := storeKey(to)
	return a.s.RangeCount(fe, fi, te, ti)
}

func (a setAdapter) Get(id echo.ID) ([]byte, bool, error) {
	b, ok, err := a.s.Get(id)
	return b.Envelope, ok, err
}

func (a setAdapter) Has(id echo.ID) (bool, error) { return a.s.Has(id) }
