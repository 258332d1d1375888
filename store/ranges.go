package store

import "fmt"

// rangeCountQuery counts keys in [from, to) on the (expiry, id) index alone.
const rangeCountQuery = "SELECT count(*) FROM blobs WHERE (expiry, id) >= (?, ?) AND (expiry, id) < (?, ?)"

// RangeCount returns the number of unexpired blobs in [from, to) in (Expiry, ID) order: the
// count of what RangeIDs would list without a limit, for splitting a range during set
// reconciliation. It reads only the (expiry, id) index and holds no keys in memory.
func (s *Store) RangeCount(fromExp int64, fromID [32]byte, toExp int64, toID [32]byte) (int, error) {
	if s.closing.Load() {
		return 0, ErrClosed
	}
	if now := s.now(); fromExp <= now {
		fromExp, fromID = now+1, [32]byte{}
	}
	s.commitMu.RLock() // each blob in SQLite or in the overlay, not both
	defer s.commitMu.RUnlock()
	var n int
	if err := s.rdb.QueryRow(rangeCountQuery, fromExp, fromID[:], toExp, toID[:]).Scan(&n); err != nil {
		return 0, fmt.Errorf("failed to count keys: %w", err)
	}
	return n + len(s.ov.keys(Key{fromExp, fromID}, Key{toExp, toID}, s.now())), nil
}
