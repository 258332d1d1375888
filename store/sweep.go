package store

import (
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
		var n int64
		err := runTx(bg, w.conn, func() error {
			r, err := w.sweep.Exec(now, sweepChunk)
			if err != nil {
				return err
			}
			if n, err = r.RowsAffected(); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("failed to sweep: %w", err)
		}
		total += int(n)
		if n > 0 {
			var st txState
			if err := w.totals.QueryRow().Scan(&st.blobs, &st.bytes); err != nil {
				return total, fmt.Errorf("failed to sweep: %w", err)
			}
			st.swept = uint64(n)
			w.apply(&st)
		}
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
