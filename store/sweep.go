package store

import (
	"database/sql"
	"fmt"
)

type sweepResult struct {
	n   int
	err error
}

// Sweep deletes every blob whose expiry has been reached and returns how
// many it removed. The committer also sweeps every SweepEvery.
func (s *Store) Sweep() (int, error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return 0, ErrClosed
	}
	reply := make(chan sweepResult, 1)
	s.sweeps <- reply // the committer cannot exit while we hold mu
	s.mu.RUnlock()
	r := <-reply
	return r.n, r.err
}

// sweepAll deletes expired blobs sweepChunk at a time, one transaction per
// chunk so a large backlog neither bloats the WAL nor stalls puts. With
// interleave, queued puts are committed between chunks.
func (s *Store) sweepAll(interleave bool) (int, error) {
	w := s.w
	now := s.now()
	total := 0
	for {
		if err := w.begin(); err != nil {
			return total, fmt.Errorf("failed to sweep: %w", err)
		}
		err := w.applyCounts() // before the delete triggers subtract
		var n int64
		if err == nil {
			var r sql.Result
			if r, err = w.sweep.Exec(now, sweepChunk); err == nil {
				n, err = r.RowsAffected()
			}
		}
		if err != nil {
			w.abort()
			return total, fmt.Errorf("failed to sweep: %w", err)
		}
		if n > 0 {
			var st txState
			if err := w.readTotals(&st); err != nil {
				w.abort()
				return total, fmt.Errorf("failed to sweep: %w", err)
			}
			st.swept = uint64(n)
			w.dirty = true
			// Readers stop seeing the rows only once they are committed;
			// counters follow the commit.
			if err := w.commitIndex(); err != nil {
				return total, fmt.Errorf("failed to sweep: %w", err)
			}
			w.apply(&st)
		}
		total += int(n)
		if n < sweepChunk {
			break
		}
		if interleave {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					w.reqsClosed = true
					return total, nil
				}
				if !s.collect(r, w.timer) {
					return total, nil
				}
			default:
			}
		}
	}
	if total > 0 {
		s.log.Debug("store: swept expired blobs", "n", total)
	}
	return total, nil
}
