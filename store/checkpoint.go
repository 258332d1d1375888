package store

import (
	"database/sql"
	"fmt"

	sqlite "modernc.org/sqlite"
)

// The committer must never copy the WAL back into the database itself: on
// an SD card that random-write checkpoint can take seconds, and every Put
// would wait behind it. So the writer's own auto-checkpoint is only a
// safety net (walSafetyPages), and a separate goroutine with its own
// connection runs PASSIVE checkpoints, which never block the writer,
// whenever the committer has written checkpointPages pages since the last
// one. Checkpointing less often also writes each hot page (table tail,
// index roots, totals) to the database once per checkpoint instead of once
// per commit.

const (
	checkpointPages = 8192  // 32 MiB of WAL frames between background checkpoints
	walSafetyPages  = 16384 // the writer checkpoints itself if the WAL ever reaches 64 MiB
)

// countWrites reads and resets how many pages the write connection has
// written (to the WAL) since the last call, and kicks the checkpointer
// when enough have piled up.
func (w *writer) countWrites() {
	var n int
	err := w.conn.Raw(func(dc any) error {
		st, ok := dc.(sqlite.DBStatus)
		if !ok {
			return fmt.Errorf("driver has no DBStatus")
		}
		var err error
		n, _, err = st.Status(sqlite.DBStatusCacheWrite, true)
		return err
	})
	if err != nil {
		return
	}
	s := w.s
	s.pagesWritten.Add(uint64(n))
	w.sinceCheckpoint += n
	if w.sinceCheckpoint >= s.opt.checkpointPages {
		w.sinceCheckpoint = 0
		select {
		case s.kick <- struct{}{}:
		default: // one is pending already
		}
	}
}

// checkpointer runs PASSIVE checkpoints on its own connection when kicked.
func (s *Store) checkpointer(db *sql.DB) {
	defer close(s.ckptDone)
	for {
		select {
		case <-s.kick:
		case <-s.stopCkpt:
			return
		}
		var busy, log, done int
		if err := db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
			s.log.Warn("store: checkpoint failed", "err", err)
			continue
		}
		s.checkpoints.Add(1)
		s.log.Debug("store: checkpoint", "wal_pages", log, "copied", done)
		if s.opt.onCheckpoint != nil {
			s.opt.onCheckpoint()
		}
	}
}
