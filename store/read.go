package store

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// byIDGen lists the generations of seqs that blobs_gen_id is keyed by
// (seq >> 16, schema.go migration 4) that hold a row, oldest first: a
// lookup by ID alone probes the index once per generation. Each step seeks
// the rowid for the first seq of a later generation, so generations emptied
// by sweeps cost nothing however far the seqs have run on.
const byIDGen = `WITH RECURSIVE gen(n) AS (
		SELECT (SELECT min(seq) FROM blobs) >> 16
		UNION ALL SELECT (SELECT min(seq) FROM blobs WHERE seq >= (n + 1) << 16) >> 16 FROM gen WHERE n IS NOT NULL)
	`

// byIDWhere selects the row of blob ?1 through blobs_gen_id, after byIDGen.
const byIDWhere = "(seq >> 16) IN gen AND substr(id, 1, 8) = substr(?1, 1, 8) AND id = ?1"

// readStmts are prepared on the read pool; database/sql re-prepares them
// on each connection as needed.
type readStmts struct {
	has, get, tagRows, tagSeqs, bySeqs, all, keys, loc *sql.Stmt
}

func prepareReads(db *sql.DB) (*readStmts, error) {
	r := new(readStmts)
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&r.has, byIDGen + "SELECT 1 FROM blobs WHERE " + byIDWhere},
		{&r.get, byIDGen + "SELECT seq, tag, expiry, env, seg, off, size FROM blobs WHERE " + byIDWhere + " AND expiry > ?2"},
		{&r.loc, "SELECT seg, off, size FROM blobs WHERE seq = ? AND seg IS NOT NULL"},
		// One mailbox: walk blobs_tag, which also filters on expiry,
		// and read only the rows returned.
		{&r.tagRows, "SELECT seq, id, tag, expiry, env, seg, off, size FROM blobs WHERE tag = ? AND seq > ? AND expiry > ? ORDER BY seq LIMIT ?"},
		// Several mailboxes: phase 1 is covered by blobs_tag, phase 2
		// reads the chosen rows by rowid, in order (seqs is a JSON array).
		{&r.tagSeqs, "SELECT seq FROM blobs WHERE tag = ? AND seq > ? AND expiry > ? ORDER BY seq LIMIT ?"},
		{&r.bySeqs, "SELECT seq, id, tag, expiry, env, seg, off, size FROM blobs WHERE seq IN (SELECT value FROM json_each(?)) AND expiry > ? ORDER BY seq"},
		{&r.all, "SELECT seq, id, tag, expiry, env, seg, off, size FROM blobs WHERE seq > ? AND expiry > ? ORDER BY seq LIMIT ?"},
		{&r.keys, "SELECT expiry, id FROM blobs WHERE (expiry, id) >= (?, ?) AND (expiry, id) < (?, ?) ORDER BY expiry, id LIMIT ?"},
	} {
		st, err := db.Prepare(p.q)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("failed to prepare %q: %w", p.q, err)
		}
		*p.st = st
	}
	return r, nil
}

func (r *readStmts) close() {
	for _, st := range []*sql.Stmt{r.has, r.get, r.tagRows, r.tagSeqs, r.bySeqs, r.all, r.keys, r.loc} {
		if st != nil {
			st.Close()
		}
	}
}

// Has reports whether a blob with this ID is stored. Unlike Get it is true
// for an expired blob until the sweep removes it, so a blob flooded back
// after expiring is still recognised as a duplicate.
func (s *Store) Has(id [32]byte) (bool, error) {
	if s.closing.Load() {
		return false, ErrClosed
	}
	if s.ov.get(id) != nil {
		return true, nil
	}
	var one int
	switch err := s.r.has.QueryRow(id[:]).Scan(&one); {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, fmt.Errorf("failed to look up blob: %w", err)
	}
}

// Get returns the blob with this ID unless it is absent or expired.
func (s *Store) Get(id [32]byte) (Blob, bool, error) {
	if s.closing.Load() {
		return Blob{}, false, ErrClosed
	}
	now := s.now()
	if p := s.ov.get(id); p != nil {
		if p.expiry <= now {
			return Blob{}, false, nil
		}
		env, err := s.w.log.read(p.at.seg, p.at.off, p.size, id)
		if err != nil {
			return Blob{}, false, fmt.Errorf("failed to get blob: %w", err)
		}
		return Blob{ID: id, Tag: p.tag, Expiry: p.expiry, Envelope: env}, true, nil
	}
	b := Blob{ID: id}
	var tag []byte
	var seq int64
	var seg, off sql.NullInt64
	var size int
	switch err := s.r.get.QueryRow(id[:], now).Scan(&seq, &tag, &b.Expiry, &b.Envelope, &seg, &off, &size); {
	case err == nil:
		copy(b.Tag[:], tag)
		if seg.Valid {
			env, err := s.body(seq, id, seg.Int64, off.Int64, size)
			if errors.Is(err, errRecordGone) {
				return Blob{}, false, nil
			}
			if err != nil {
				return Blob{}, false, fmt.Errorf("failed to get blob: %w", err)
			}
			b.Envelope = env
		}
		return b, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return Blob{}, false, nil
	default:
		return Blob{}, false, fmt.Errorf("failed to get blob: %w", err)
	}
}

// Fetch pages through unexpired blobs in Seq order, starting after the
// cursor after. With tags empty it returns every blob; otherwise only
// blobs whose tag is in tags (the zero tag matches nothing). It returns at
// most limit items (limit <= 0 or above 1000 means 1000) and stops before
// the envelopes exceed maxBytes (<= 0: no byte limit) — except that the
// first item is always returned, so paging makes progress whatever the
// size of a blob. next is the Seq of the last item returned (after when
// none); more reports that further items were available.
func (s *Store) Fetch(tags [][32]byte, after uint64, limit int, maxBytes int) (items []Item, next uint64, more bool, err error) {
	if s.closing.Load() {
		return nil, after, false, ErrClosed
	}
	if limit <= 0 || limit > maxFetchLimit {
		limit = maxFetchLimit
	}
	if after > math.MaxInt64 {
		return nil, after, false, nil // beyond any Seq
	}
	now := s.now()
	var uniq [][32]byte
	for _, tag := range tags {
		if tag != ([32]byte{}) && !slices.Contains(uniq, tag) {
			uniq = append(uniq, tag)
		}
	}
	if len(tags) > 0 && len(uniq) == 0 {
		return nil, after, false, nil
	}
	// The overlay first: a put whose index row commits while SQLite is
	// read then shows up in both, and is taken once, by seq.
	recent := s.ov.after(uniq, after, now, limit+1)
	if len(tags) == 0 {
		items, more, err = s.fetchAll(after, limit, maxBytes, now)
	} else {
		items, more, err = s.fetchTags(uniq, after, limit, maxBytes, now)
	}
	if err == nil && !more {
		items, more, err = s.addRecent(items, recent, after, limit, maxBytes)
	}
	if err != nil {
		return nil, after, false, fmt.Errorf("failed to fetch: %w", err)
	}
	next = after
	if len(items) > 0 {
		next = items[len(items)-1].Seq
	}
	return items, next, more, nil
}

// body reads the envelope of row seq from the blob log. Compaction may
// have moved the record, and deleted its old segment, between the index read
// and this one: then the row's new place is looked up (errRecordGone when
// the row itself is gone).
func (s *Store) body(seq int64, id [32]byte, seg, off int64, size int) ([]byte, error) {
	for range 3 {
		env, err := s.w.log.read(uint64(seg), off, size, id)
		if !errors.Is(err, errRecordGone) {
			return env, err
		}
		switch err := s.r.loc.QueryRow(seq).Scan(&seg, &off, &size); {
		case errors.Is(err, sql.ErrNoRows):
			return nil, errRecordGone
		case err != nil:
			return nil, err
		}
	}
	return nil, errRecordGone
}

// addRecent continues a page from SQLite with overlay entries past it.
func (s *Store) addRecent(items []Item, recent []*pent, after uint64, limit, maxBytes int) ([]Item, bool, error) {
	last, used := after, 0
	for _, it := range items {
		used += len(it.Envelope)
		last = it.Seq
	}
	for _, p := range recent {
		if p.seq <= last {
			continue
		}
		if len(items) == limit || !fits(items, used, p.size, maxBytes) {
			return items, true, nil
		}
		env, err := s.w.log.read(p.at.seg, p.at.off, p.size, p.id)
		if err != nil {
			return nil, false, err
		}
		items = append(items, Item{Seq: p.seq, Blob: Blob{ID: p.id, Tag: p.tag, Expiry: p.expiry, Envelope: env}})
		used += p.size
	}
	return items, false, nil
}

// fits reports whether an item of size n may join items totalling used.
func fits(items []Item, used, n, maxBytes int) bool {
	return len(items) == 0 || maxBytes <= 0 || used+n <= maxBytes
}

func (s *Store) fetchAll(after uint64, limit, maxBytes int, now int64) ([]Item, bool, error) {
	rows, err := s.r.all.Query(int64(after), now, limit+1)
	if err != nil {
		return nil, false, err
	}
	return s.scanItems(rows, limit, maxBytes)
}

// scanItems reads up to limit items (of a query asked for limit+1) until
// maxBytes, and closes rows. more is true when a row was left unread.
// Envelopes in the blob log are read from it; a row whose segment was
// deleted meanwhile (its blob expired or was evicted) is skipped.
func (s *Store) scanItems(rows *sql.Rows, limit, maxBytes int) ([]Item, bool, error) {
	defer rows.Close()
	var items []Item
	used := 0
	for rows.Next() {
		if len(items) == limit {
			return items, true, nil
		}
		var it Item
		var id, tag []byte
		var seg, off sql.NullInt64
		var size int
		if err := rows.Scan(&it.Seq, &id, &tag, &it.Expiry, &it.Envelope, &seg, &off, &size); err != nil {
			return nil, false, err
		}
		if !fits(items, used, size, maxBytes) {
			return items, true, nil
		}
		copy(it.ID[:], id)
		copy(it.Tag[:], tag)
		if seg.Valid {
			env, err := s.body(int64(it.Seq), it.ID, seg.Int64, off.Int64, size)
			if errors.Is(err, errRecordGone) {
				continue
			}
			if err != nil {
				return nil, false, err
			}
			it.Envelope = env
		}
		used += len(it.Envelope)
		items = append(items, it)
	}
	return items, false, rows.Err()
}

// fetchTags pages one mailbox with a single index walk. For several, it
// takes the next limit+1 seqs of each from the covering tag index, merges
// them, and reads just the rows it may return, in Seq order, stopping at
// maxBytes.
// uniq holds distinct, non-zero tags (Fetch makes it so).
func (s *Store) fetchTags(uniq [][32]byte, after uint64, limit, maxBytes int, now int64) ([]Item, bool, error) {
	switch len(uniq) {
	case 0:
		return nil, false, nil
	case 1:
		rows, err := s.r.tagRows.Query(uniq[0][:], int64(after), now, limit+1)
		if err != nil {
			return nil, false, err
		}
		return s.scanItems(rows, limit, maxBytes)
	}
	var seqs []int64
	for _, tag := range uniq {
		rows, err := s.r.tagSeqs.Query(tag[:], int64(after), now, limit+1)
		if err != nil {
			return nil, false, err
		}
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return nil, false, err
			}
			seqs = append(seqs, seq)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, err
		}
	}
	if len(seqs) == 0 {
		return nil, false, nil
	}
	slices.Sort(seqs)
	more := len(seqs) > limit
	if more {
		seqs = seqs[:limit]
	}
	list := make([]byte, 0, 8*len(seqs)+2)
	list = append(list, '[')
	for i, seq := range seqs {
		if i > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, seq, 10)
	}
	list = append(list, ']')
	rows, err := s.r.bySeqs.Query(string(list), now)
	if err != nil {
		return nil, false, err
	}
	// Rows swept since phase 1 are simply missing here.
	items, cut, err := s.scanItems(rows, limit, maxBytes)
	return items, more || cut, err
}

// RangeIDs returns up to limit keys of unexpired blobs in [from, to),
// ordered by (Expiry, ID), for set reconciliation. It reads only the
// (expiry, id) index.
func (s *Store) RangeIDs(fromExp int64, fromID [32]byte, toExp int64, toID [32]byte, limit int) ([]Key, error) {
	if s.closing.Load() {
		return nil, ErrClosed
	}
	if now := s.now(); fromExp <= now {
		fromExp, fromID = now+1, [32]byte{}
	}
	s.commitMu.RLock() // each blob in SQLite or in the overlay, not both
	defer s.commitMu.RUnlock()
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.r.keys.Query(fromExp, fromID[:], toExp, toID[:], limit)
	if err != nil {
		return nil, fmt.Errorf("failed to list keys: %w", err)
	}
	defer rows.Close()
	var keys []Key
	for rows.Next() {
		var k Key
		var id []byte
		if err := rows.Scan(&k.Expiry, &id); err != nil {
			return nil, fmt.Errorf("failed to list keys: %w", err)
		}
		copy(k.ID[:], id)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("failed to list keys: %w", err)
	}
	if recent := s.ov.keys(Key{fromExp, fromID}, Key{toExp, toID}, s.now()); len(recent) > 0 {
		keys = append(keys, recent...)
		slices.SortFunc(keys, cmpKey)
		if limit > 0 && len(keys) > limit {
			keys = keys[:limit]
		}
	}
	return keys, nil
}
