package main

import (
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
