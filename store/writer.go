package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

var bg = context.Background()

// request is one queued Put.
type request struct {
	blob Blob
	done func(inserted bool, err error)
}

type result struct {
	inserted bool
	err      error
}

// writer holds the single write connection and its prepared statements.
// Only the committer goroutine (and Open, before it starts) uses it.
type writer struct {
	s    *Store
	conn *sql.Conn

	lookup, totals, candidates, del, insert, sweep *sql.Stmt

	timer           *time.Timer // group-commit window
	batch           []*request
	sinceCheckpoint int // pages written since the checkpointer was last kicked
	results         []result
	reqsClosed      bool
}

// txState is what a write transaction changes, applied to the Store's
// counters only once it has committed.
type txState struct {
	blobs, bytes int64 // totals as of the end of the transaction
	lastSeq      int64
	evicted      uint64
	swept        uint64
}

func (w *writer) prepare() error {
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&w.lookup, `SELECT EXISTS (SELECT 1 FROM blobs WHERE id = ?1),
			coalesce((SELECT blobs FROM mailbox WHERE tag = ?2), 0),
			coalesce((SELECT bytes FROM mailbox WHERE tag = ?2), 0)`},
		{&w.totals, "SELECT blobs, bytes FROM totals"},
		{&w.candidates, "SELECT seq, size FROM blobs WHERE expiry < ? ORDER BY expiry, id"},
		{&w.del, "DELETE FROM blobs WHERE seq = ?"},
		{&w.insert, "INSERT OR IGNORE INTO blobs (id, tag, expiry, size, env) VALUES (?, ?, ?, ?, ?)"},
		{&w.sweep, "DELETE FROM blobs WHERE seq IN (SELECT seq FROM blobs WHERE expiry <= ? ORDER BY expiry LIMIT ?)"},
	} {
		st, err := w.conn.PrepareContext(context.Background(), p.q)
		if err != nil {
			return fmt.Errorf("failed to prepare %q: %w", p.q, err)
		}
		*p.st = st
	}
	return nil
}

func (w *writer) close() error {
	for _, st := range []*sql.Stmt{w.lookup, w.totals, w.candidates, w.del, w.insert, w.sweep} {
		if st != nil {
			st.Close()
		}
	}
	return w.conn.Close()
}

// commit writes a batch in as few transactions as possible and then runs
// every callback. A statement error (typically SQLITE_FULL) fails only its
// own put: the transaction is rolled back and retried without it, so each
// retry is one put shorter and the loop ends.
func (w *writer) commit(batch []*request) {
	s := w.s
	if cap(w.results) < len(batch) {
		w.results = make([]result, len(batch))
	}
	res := w.results[:len(batch)]
	todo := make([]int, len(batch))
	for i := range todo {
		todo[i] = i
	}
	now := s.now()
	for len(todo) > 0 {
		failed, err := w.tryTx(batch, todo, res, now)
		if err == nil {
			break
		}
		if failed >= 0 {
			res[todo[failed]] = result{false, w.mapErr(err, "insert blob")}
			todo = append(todo[:failed], todo[failed+1:]...)
			continue
		}
		if isFull(err) && len(todo) > 1 {
			// COMMIT itself ran out of space: find out which puts fit
			// on their own.
			for _, i := range todo {
				if _, err := w.tryTx(batch, []int{i}, res, now); err != nil {
					res[i] = result{false, w.mapErr(err, "commit")}
				}
			}
			break
		}
		for _, i := range todo {
			res[i] = result{false, w.mapErr(err, "commit")}
		}
		break
	}
	for i, r := range batch {
		switch res[i].err {
		case ErrFull:
			s.full.Add(1)
		case ErrQuotaExceeded:
			s.overQuo.Add(1)
		}
		r.done(res[i].inserted, res[i].err)
		res[i] = result{}
	}
}

// mapErr turns SQLITE_FULL into ErrFull and wraps anything else.
func (w *writer) mapErr(err error, verb string) error {
	if isFull(err) {
		w.s.log.Warn("store: database full", "err", err)
		return ErrFull
	}
	if errors.Is(err, ErrFull) || errors.Is(err, ErrQuotaExceeded) {
		return err
	}
	return fmt.Errorf("failed to %s: %w", verb, err)
}

// tryTx runs the puts batch[todo[k]] in one transaction and fills res for
// them. On a statement error it returns the index k of the failing put in
// todo; on a BEGIN/COMMIT error k is -1. Counters change only on success.
func (w *writer) tryTx(batch []*request, todo []int, res []result, now int64) (int, error) {
	ctx := context.Background()
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return -1, err
	}
	var st txState
	if err := w.totals.QueryRow().Scan(&st.blobs, &st.bytes); err != nil {
		rollback(w.conn)
		return -1, err
	}
	for k, i := range todo {
		inserted, err := w.put(&batch[i].blob, now, &st)
		if err != nil && err != ErrFull && err != ErrQuotaExceeded && err != ErrExpired {
			rollback(w.conn)
			return k, err
		}
		res[i] = result{inserted, err}
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		rollback(w.conn)
		return -1, err
	}
	w.apply(&st)
	return 0, nil
}

func (w *writer) apply(st *txState) {
	s := w.s
	s.blobs.Store(st.blobs)
	s.bytes.Store(st.bytes)
	if st.lastSeq > 0 {
		s.lastSeq.Store(uint64(st.lastSeq))
	}
	s.evicted.Add(st.evicted)
	s.swept.Add(st.swept)
	s.commits.Add(1)
	w.countWrites()
}

// put inserts one blob inside the open transaction. The returned error is
// a sentinel for a refusal, or a database error that aborts the
// transaction.
func (w *writer) put(b *Blob, now int64, st *txState) (bool, error) {
	opt := &w.s.opt
	if b.Expiry <= now {
		return false, ErrExpired
	}
	// One statement answers both questions a put asks before inserting: is the ID known, and
	// what does the tag's mailbox hold (zeros for a new mailbox or an untagged blob).
	size := int64(len(b.Envelope))
	var tag any // NULL for untagged
	if b.Tag != ([32]byte{}) {
		tag = b.Tag[:]
	}
	var known bool
	var n, bytes int64
	if err := w.lookup.QueryRow(b.ID[:], tag).Scan(&known, &n, &bytes); err != nil {
		return false, err
	}
	if known {
		return false, nil
	}
	if tag != nil && (n >= int64(opt.MaxMailboxBlobs) || bytes+size > opt.MaxMailboxBytes) {
		return false, ErrQuotaExceeded
	}
	if st.bytes+size > opt.MaxBytes {
		ok, err := w.evict(st.bytes+size-opt.MaxBytes, b.Expiry, st)
		if err != nil || !ok {
			return false, err
		}
	}
	env := b.Envelope
	if env == nil {
		env = []byte{} // NOT NULL
	}
	r, err := w.insert.Exec(b.ID[:], tag, b.Expiry, size, env)
	if err != nil {
		return false, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return false, nil
	}
	if st.lastSeq, err = r.LastInsertId(); err != nil {
		return false, err
	}
	st.blobs++
	st.bytes += size
	return true, nil
}

// evict deletes the blobs that expire soonest, all before expiry, until
// need bytes are free. It deletes nothing and returns ErrFull when even
// all of them would not free enough.
func (w *writer) evict(need, expiry int64, st *txState) (bool, error) {
	if need > w.s.opt.MaxBytes {
		return false, ErrFull
	}
	rows, err := w.candidates.Query(expiry)
	if err != nil {
		return false, err
	}
	var seqs []int64
	var freed int64
	for freed < need && rows.Next() {
		var seq, size int64
		if err := rows.Scan(&seq, &size); err != nil {
			rows.Close()
			return false, err
		}
		seqs = append(seqs, seq)
		freed += size
	}
	if err := rows.Close(); err != nil {
		return false, err
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	if freed < need {
		return false, ErrFull
	}
	for _, seq := range seqs {
		if _, err := w.del.Exec(seq); err != nil {
			return false, err
		}
	}
	st.blobs -= int64(len(seqs))
	st.bytes -= freed
	st.evicted += uint64(len(seqs))
	return true, nil
}
