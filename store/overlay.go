package store

import (
	"slices"
	"sync"
)

// overlay makes acknowledged puts visible to readers while their index rows
// are still in the committer's open transaction, which other connections
// cannot see. The committer adds a batch's entries after the blob log was
// fsynced and before the puts are acknowledged, and empties the overlay
// right after the index transaction has committed. Readers look here first
// and in SQLite second, so a blob is always found in one or both: a reader
// that misses it here (just emptied) queries SQLite after the commit.
type overlay struct {
	mu    sync.RWMutex
	byID  map[[32]byte]*pent
	list  []*pent // in seq order
	byTag map[[32]byte][]*pent
}

// pent is one acknowledged, not yet committed put. Immutable once added.
type pent struct {
	seq    uint64
	id     [32]byte
	tag    [32]byte
	expiry int64
	at     logPos
	size   int
}

func newOverlay() *overlay {
	return &overlay{byID: map[[32]byte]*pent{}, byTag: map[[32]byte][]*pent{}}
}

func (o *overlay) add(ps []*pent) {
	if len(ps) == 0 {
		return
	}
	o.mu.Lock()
	for _, p := range ps {
		o.byID[p.id] = p
		o.list = append(o.list, p)
		if p.tag != ([32]byte{}) {
			o.byTag[p.tag] = append(o.byTag[p.tag], p)
		}
	}
	o.mu.Unlock()
}

func (o *overlay) clear() {
	o.mu.Lock()
	clear(o.byID)
	clear(o.byTag)
	clear(o.list)
	o.list = o.list[:0]
	o.mu.Unlock()
}

func (o *overlay) get(id [32]byte) *pent {
	o.mu.RLock()
	p := o.byID[id]
	o.mu.RUnlock()
	return p
}

// after returns the entries with seq > after whose tag is in tags (every
// entry when tags is empty), unexpired at now, in seq order, at most limit.
func (o *overlay) after(tags [][32]byte, after uint64, now int64, limit int) []*pent {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if len(o.list) == 0 {
		return nil
	}
	var out []*pent
	pick := func(list []*pent) {
		i, _ := slices.BinarySearchFunc(list, after+1, func(p *pent, seq uint64) int {
			switch {
			case p.seq < seq:
				return -1
			case p.seq > seq:
				return 1
			}
			return 0
		})
		n := 0
		for _, p := range list[i:] {
			if n == limit {
				break
			}
			if p.expiry > now {
				out = append(out, p)
				n++
			}
		}
	}
	if len(tags) == 0 {
		pick(o.list)
		return out
	}
	for _, tag := range tags {
		pick(o.byTag[tag])
	}
	if len(tags) > 1 {
		slices.SortFunc(out, func(a, b *pent) int { return cmpU64(a.seq, b.seq) })
		if len(out) > limit {
			out = out[:limit]
		}
	}
	return out
}

// keys returns the keys of the entries in [from, to), unexpired at now.
func (o *overlay) keys(from, to Key, now int64) []Key {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var out []Key
	for _, p := range o.list {
		k := Key{p.expiry, p.id}
		if p.expiry > now && cmpKey(k, from) >= 0 && cmpKey(k, to) < 0 {
			out = append(out, k)
		}
	}
	return out
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpKey orders keys by (Expiry, ID), as the (expiry, id) index does: IDs
// compare as bytes, which is how SQLite compares BLOBs.
func cmpKey(a, b Key) int {
	switch {
	case a.Expiry < b.Expiry:
		return -1
	case a.Expiry > b.Expiry:
		return 1
	}
	return slices.Compare(a.ID[:], b.ID[:])
}
