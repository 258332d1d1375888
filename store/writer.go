package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// writer holds the single write connection, its prepared statements and
// the blob log. Only the committer goroutine (and Open, before it starts)
// uses it.
//
// A batch of puts is made durable by appending its records to the blob log
// and fsyncing it: then the puts are acknowledged. Their index rows go into
// one long SQLite transaction that stays open across batches and commits
// only every FlushBlobs puts or FlushEvery, after deletions, and on Close —
// so the random B-tree leaves of the id and tag indexes are written once
// per thousands of puts instead of once per fsync. Until it commits, the
// overlay shows those puts to readers. If the process dies, the rows of the
// open transaction are lost but their records are not: Open replays the log
// from logpos, the position the last committed transaction recorded.
type writer struct {
	s    *Store
	conn *sql.Conn
	log  *vlog
	wal  string // the SQLite file's WAL, fsynced before segments are deleted

	known, mailbox, totals, del, insert, sweep, setPos, emptySegs, dropSegs *sql.Stmt
	sparsest, segRows, move                                                 *sql.Stmt
	addTotals, addMailbox, addSegment, addSource                            *sql.Stmt
	source, nSources, largest, ofSource                                     *sql.Stmt

	timer           *time.Timer // group-commit window
	batch           []*request
	sinceCheckpoint int // pages written since the checkpointer was last kicked
	results         []result
	reqsClosed      bool

	inTx       bool      // the index transaction is open
	txSince    time.Time // when it was opened
	txPuts     int       // puts in it
	mustCommit bool      // it deleted rows: commit before the step ends
	dirty      bool      // it changed something
	compacting bool      // a segment is being moved (compact does not recurse)
	broken     bool      // it was rolled back after puts were acknowledged: replay before the next put
	committed  logPos    // logpos of the last committed index transaction
	lastSeq    int64     // highest seq acknowledged
	buf        []byte    // log records of the batch in progress
	pend       []*pent   // its overlay entries

	// What the open transaction inserted and the totals, mailbox and
	// segments rows do not count yet (applyCounts).
	insBlobs, insBytes int64
	insMailbox         map[[32]byte]*count // the zero tag counts untagged blobs
	insSegment         map[uint64]*count
	insSource          map[[8]byte]*count
}

type count struct{ blobs, bytes int64 }

// txState is what a write transaction changes, applied to the Store's
// counters only once it has committed.
type txState struct {
	blobs, bytes int64 // totals as of the end of the transaction
	lastSeq      int64
	evicted      uint64
	swept        uint64
}

// maxEvictSources bounds how many sources one put may take room from (the largest ones), and
// evictPage how many blobs of one source a query reads at a time.
const (
	maxEvictSources = 64
	evictPage       = 64
)

// evictPool is one source's part in an eviction plan.
type evictPool struct {
	bytes int64   // what it holds, less what the plan takes
	used  int64   // its blobs planned so far
	next  []int64 // its next (seq, size) pairs in expiry order, read a page at a time
}

func (w *writer) prepare() error {
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&w.known, "SELECT EXISTS (SELECT 1 FROM blobs WHERE expiry = ? AND id = ?)"},
		{&w.mailbox, "SELECT blobs, bytes FROM mailbox WHERE tag = ?"},
		{&w.totals, "SELECT blobs, bytes FROM totals"},
		{&w.del, "DELETE FROM blobs WHERE seq = ?"},
		{&w.insert, "INSERT OR IGNORE INTO blobs (seq, id, tag, expiry, size, env, seg, off, src) VALUES (?, ?, ?, ?, ?, x'', ?, ?, ?)"},
		{&w.sweep, "DELETE FROM blobs WHERE seq IN (SELECT seq FROM blobs WHERE expiry <= ? ORDER BY expiry LIMIT ?)"},
		{&w.setPos, "UPDATE logpos SET seg = ?, off = ?"},
		{&w.emptySegs, "SELECT seg FROM segments WHERE blobs <= 0 AND seg < ?"},
		{&w.dropSegs, "DELETE FROM segments WHERE blobs <= 0 AND seg < ?"},
		{&w.sparsest, "SELECT seg, bytes FROM segments WHERE seg < ? AND blobs > 0 ORDER BY bytes LIMIT 1"},
		{&w.segRows, "SELECT seq, id, tag, expiry, size, off FROM blobs WHERE seg = ? ORDER BY seq"}, // blobs_seg order: no sort, a step stops early
		{&w.move, "UPDATE blobs SET seg = ?, off = ? WHERE seq = ?"},
		{&w.addTotals, "UPDATE totals SET blobs = blobs + ?, bytes = bytes + ?"},
		{&w.addMailbox, `INSERT INTO mailbox (tag, blobs, bytes) VALUES (?, ?, ?)
			ON CONFLICT (tag) DO UPDATE SET blobs = blobs + excluded.blobs, bytes = bytes + excluded.bytes`},
		{&w.addSegment, `INSERT INTO segments (seg, blobs, bytes) VALUES (?, ?, ?)
			ON CONFLICT (seg) DO UPDATE SET blobs = blobs + excluded.blobs, bytes = bytes + excluded.bytes`},
		{&w.addSource, `INSERT INTO sources (src, blobs, bytes) VALUES (?, ?, ?)
			ON CONFLICT (src) DO UPDATE SET blobs = blobs + excluded.blobs, bytes = bytes + excluded.bytes`},
		{&w.source, "SELECT bytes FROM sources WHERE src = ?"},
		{&w.nSources, "SELECT count(*) FROM sources WHERE bytes > 0"},
		{&w.largest, "SELECT src, bytes FROM sources WHERE src != ? AND bytes > 0 ORDER BY bytes DESC LIMIT ?"},
		{&w.ofSource, "SELECT seq, size FROM blobs WHERE src = ? AND expiry < ? ORDER BY expiry, id LIMIT ? OFFSET ?"},
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
	for _, st := range []*sql.Stmt{w.known, w.mailbox, w.totals, w.del, w.insert, w.sweep, w.setPos, w.emptySegs, w.dropSegs, w.sparsest, w.segRows, w.move, w.addTotals, w.addMailbox, w.addSegment, w.addSource, w.source, w.nSources, w.largest, w.ofSource} {
		if st != nil {
			st.Close()
		}
	}
	var errs []error
	if w.log != nil {
		errs = append(errs, w.log.close())
	}
	errs = append(errs, w.conn.Close())
	return errors.Join(errs...)
}

// commit makes a batch durable in as few log writes as possible and then
// runs every callback. A statement error (typically SQLITE_FULL) fails only
// its own put: the batch is rolled back to its savepoint and retried
// without it, so each retry is one put shorter and the loop ends.
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
			// The log write ran out of space: find out which puts fit
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
	if w.mustCommit {
		// Evicted blobs must be gone for readers before anyone hears of
		// the puts that evicted them.
		_ = w.commitIndex() // logged; retried at the next step
	}
	for i, r := range batch {
		switch res[i].err {
		case ErrFull:
			s.full.Add(1)
		case ErrQuotaExceeded:
			s.overQuo.Add(1)
		case ErrOverShare:
			s.overShare.Add(1)
		}
		r.done(res[i].inserted, res[i].err)
		res[i] = result{}
	}
	if w.inTx && (w.txPuts >= s.opt.FlushBlobs || time.Since(w.txSince) >= s.opt.FlushEvery) {
		_ = w.commitIndex() // logged; retried at the next step
	}
	if w.log.unsynced {
		s.logSync.after(s.opt.SyncEvery)
	}
}

// syncLog runs the deferred fsync of the blob log (Options.SyncEvery). If
// it fails, the puts acknowledged since the last one may be gone after a
// power cut (the running relay still serves them from the page cache):
// that is logged as an error and counted, and the next sync tries again.
func (w *writer) syncLog() {
	if err := w.log.sync(); err != nil {
		w.s.syncFailures.Add(1)
		w.s.log.Error("store: deferred fsync of the blob log failed; blobs acknowledged since the last fsync may be lost on a power cut", "err", err)
		w.s.logSync.after(w.s.opt.SyncEvery)
	}
}

// begin opens the index transaction unless it is open. After a rollback
// that lost acknowledged rows it first puts them back from the log.
func (w *writer) begin() error {
	if w.inTx {
		return nil
	}
	if _, err := w.conn.ExecContext(bg, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	w.inTx, w.txSince, w.txPuts = true, time.Now(), 0
	if w.broken {
		_, n, err := w.replay(w.committed)
		if err != nil {
			w.abort()
			return err
		}
		w.broken = false
		w.txPuts = n
		var st txState
		if err := w.readTotals(&st); err != nil {
			w.abort()
			return err
		}
		w.apply(&st)
	}
	w.s.flushTimer.Reset(w.s.opt.FlushEvery)
	return nil
}

// abort rolls the index transaction back. Acknowledged rows in it are
// lost from SQLite (not from the log): the next begin replays them.
func (w *writer) abort() {
	rollback(w.conn)
	w.dropCounts()
	if w.inTx && w.txPuts > 0 {
		w.broken = true
	}
	w.inTx, w.mustCommit, w.dirty = false, false, false
}

// replay inserts an index row for every log record after from that is not
// indexed yet, inside the open transaction, and returns the end of the log
// and how many records it read. Acknowledged puts passed their checks when
// they were made, so they are not checked against quotas again; expired
// ones are left to the sweep.
func (w *writer) replay(from logPos) (logPos, int, error) {
	n := 0
	end, err := w.log.scan(from, func(r record, at logPos) error {
		n++
		if _, err := w.indexRow(int64(r.seq), r.id, r.tag, [8]byte{}, r.expiry, int64(len(r.env)), at); err != nil {
			return fmt.Errorf("failed to index blob log record: %w", err)
		}
		w.lastSeq = max(w.lastSeq, int64(r.seq))
		return nil
	})
	if n > 0 {
		w.dirty = true
	}
	return end, n, err
}

// commitIndex commits the index transaction with the log position it
// covers, then empties the overlay and deletes segments no row points
// into any more. A failed commit is rolled back; the next begin replays.
func (w *writer) commitIndex() error {
	if !w.inTx {
		if !w.broken {
			return nil
		}
		if err := w.begin(); err != nil { // replays what a rollback lost
			return fmt.Errorf("failed to commit index: %w", err)
		}
	}
	s := w.s
	if !w.dirty {
		rollback(w.conn) // nothing to write
		w.inTx, w.mustCommit = false, false
		return nil
	}
	pos := w.log.pos()
	s.commitMu.Lock()
	// The log records up to pos are fsynced before the index that points
	// at them commits (they are already, unless Options.SyncEvery defers).
	err := w.log.sync()
	if err == nil {
		err = w.commitTx(pos)
	}
	if err != nil {
		w.abort()
		s.commitMu.Unlock()
		s.log.Warn("store: index commit failed; the blob log keeps every acknowledged blob, retrying", "err", err)
		return fmt.Errorf("failed to commit index: %w", err)
	}
	w.inTx, w.mustCommit, w.dirty = false, false, false
	w.committed = pos
	s.ov.clear()
	s.commitMu.Unlock()
	s.indexCommits.Add(1)
	s.flushTimer.Stop()
	w.countWrites()
	w.dropEmptySegments()
	w.compactSoon()
	return nil
}

// compact moves live records of the sparsest closed segment that is less
// than half live to the end of the log, so that it empties and is deleted.
// Without it a segment would keep its space until its longest-lived blob
// expires: with mixed TTLs, or after evictions, the log would grow well
// past the bytes it holds. One call moves at most compactChunk bytes and
// commits them; that commit calls compactSoon, so the committer comes back
// after compactPause (Store.compactStep) while anything is left to move.
// Puts thus wait for at most one short step, never for a whole segment's
// copy, and are served between steps.
func (w *writer) compact() {
	if w.compacting {
		return
	}
	w.compacting = true
	defer func() { w.compacting = false }()
	var seg, live int64
	if err := w.sparsest.QueryRow(int64(w.log.seg)).Scan(&seg, &live); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			w.s.log.Warn("store: failed to find a log segment to compact", "err", err)
		}
		return
	}
	st, err := os.Stat(segName(w.log.dir, uint64(seg)))
	if err != nil || live*2 >= st.Size() {
		return
	}
	done, err := w.moveRecords(uint64(seg), w.s.opt.compactChunk)
	w.s.compactSteps.Add(1)
	if err != nil {
		w.s.log.Warn("store: failed to compact a log segment", "err", err)
		return
	}
	if done {
		w.s.compactions.Add(1)
		w.s.log.Debug("store: compacted a log segment", "live_bytes", live, "file_bytes", st.Size())
	}
}

// compactSoon has the committer run a compaction step after compactPause
// (or leaves the step already due where it is). Index commits call it, so
// that a step never adds to the commit, sweep or put that just ran.
func (w *writer) compactSoon() { w.s.compactStep.after(compactPause) }

// moveRecords copies records of seg that index rows point at, up to about
// limit bytes, to the end of the log, points the rows at the copies, and
// commits; done says no row points into seg any more. Until the commit the
// old records stay where readers find them; a crash before it leaves
// unreferenced copies, which are harmless.
func (w *writer) moveRecords(seg uint64, limit int64) (done bool, err error) {
	if err := w.begin(); err != nil {
		return false, err
	}
	if err := w.log.rotateIfFull(); err != nil {
		return false, err
	}
	if err := w.applyCounts(); err != nil { // the move trigger updates segments rows
		w.abort()
		return false, err
	}
	rows, err := w.segRows.Query(int64(seg))
	if err != nil {
		w.abort()
		return false, err
	}
	type loc struct {
		seq  int64
		blob Blob
		size int
		off  int64
	}
	var live []loc
	var bytes int64
	done = true
	for rows.Next() {
		if bytes >= limit {
			done = false
			break
		}
		var l loc
		var id, tag []byte
		if err := rows.Scan(&l.seq, &id, &tag, &l.blob.Expiry, &l.size, &l.off); err != nil {
			rows.Close()
			w.abort()
			return false, err
		}
		copy(l.blob.ID[:], id)
		copy(l.blob.Tag[:], tag)
		live = append(live, l)
		bytes += int64(l.size) + recHeader
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		w.abort()
		return false, err
	}
	w.buf = w.buf[:0]
	for _, l := range live {
		env, err := w.log.read(seg, l.off, l.size, l.blob.ID)
		if err != nil {
			w.abort()
			return false, err
		}
		l.blob.Envelope = env
		at := logPos{w.log.seg, w.log.end + int64(len(w.buf))}
		if _, err := w.move.Exec(int64(at.seg), at.off, l.seq); err != nil {
			w.abort()
			return false, err
		}
		w.buf = appendRecord(w.buf, uint64(l.seq), &l.blob)
	}
	err = w.log.write(w.buf)
	w.trimBuf()
	if err != nil {
		w.abort()
		return false, err
	}
	w.dirty = true
	return done, w.commitIndex()
}

// trimBuf drops the record buffer once a batch or a compaction made it
// large (a compaction can fill it with a segment's worth of records), so
// an idle relay does not keep it.
func (w *writer) trimBuf() {
	if cap(w.buf) > 1<<20 {
		w.buf = nil
	}
}

// commitTx adds the open transaction's inserts to the counting rows,
// records pos as the end of the log it covers, and commits.
func (w *writer) commitTx(pos logPos) error {
	if err := w.applyCounts(); err != nil {
		return err
	}
	if _, err := w.setPos.Exec(int64(pos.seg), pos.off); err != nil {
		return err
	}
	_, err := w.conn.ExecContext(bg, "COMMIT")
	return err
}

// dropEmptySegments deletes the segment files that no row points into
// (all their blobs expired or were evicted), then their rows. The active
// segment is never deleted.
func (w *writer) dropEmptySegments() {
	// The active segment too, when every blob in it is gone: move on to a
	// new one so that its space comes back.
	if w.log.end > int64(len(segMagic)) {
		var live int64
		err := w.conn.QueryRowContext(bg, "SELECT coalesce((SELECT blobs FROM segments WHERE seg = ?), 0)", int64(w.log.seg)).Scan(&live)
		if err == nil && live <= 0 {
			if err := w.log.create(w.log.seg + 1); err != nil {
				w.s.log.Warn("store: failed to start a new log segment", "err", err)
			}
		}
	}
	rows, err := w.emptySegs.Query(int64(w.log.seg))
	if err != nil {
		w.s.log.Warn("store: failed to list empty log segments", "err", err)
		return
	}
	var segs []uint64
	for rows.Next() {
		var seg int64
		if rows.Scan(&seg) == nil {
			segs = append(segs, uint64(seg))
		}
	}
	rows.Close()
	if len(segs) == 0 {
		return
	}
	// The commit that emptied these segments must survive a power cut
	// before their files go: index commits do not fsync (synchronous
	// NORMAL), and an index that came back pointing into a deleted segment
	// would have lost those blobs. Until this succeeds the files stay, and
	// the next commit tries again.
	if err := w.syncWAL(); err != nil {
		w.s.log.Warn("store: failed to sync the index before deleting log segments; keeping them", "err", err)
		return
	}
	for _, seg := range segs {
		if err := w.log.remove(seg); err != nil {
			w.s.log.Warn("store: failed to delete log segment", "err", err)
			return
		}
	}
	if _, err := w.dropSegs.Exec(int64(w.log.seg)); err != nil {
		w.s.log.Warn("store: failed to forget deleted log segments", "err", err)
	}
	w.s.log.Debug("store: deleted empty log segments", "n", len(segs))
}

// syncWAL fsyncs the SQLite file's WAL, making every committed index
// transaction durable. SQLite wrote the frames at COMMIT; fsync through
// another descriptor of the same file flushes them.
func (w *writer) syncWAL() error {
	f, err := os.Open(w.wal)
	if errors.Is(err, os.ErrNotExist) {
		return nil // checkpointed and removed: everything is in the main file
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := w.log.fsync(f); err != nil {
		return fmt.Errorf("failed to sync %s: %w", filepath.Base(w.wal), err)
	}
	return nil
}

// mapErr turns SQLITE_FULL into ErrFull and wraps anything else.
func (w *writer) mapErr(err error, verb string) error {
	if isFull(err) {
		w.s.log.Warn("store: database full", "err", err)
		return ErrFull
	}
	if errors.Is(err, ErrFull) || errors.Is(err, ErrQuotaExceeded) || errors.Is(err, ErrOverShare) {
		return err
	}
	return fmt.Errorf("failed to %s: %w", verb, err)
}

// tryTx runs the puts batch[todo[k]] as one step of the index
// transaction, writes their records to the blob log and fsyncs it, and
// fills res for them. On a statement error it returns the index k of the
// failing put in todo; on any other error k is -1. Either way the whole
// index transaction is rolled back and the next step replays what it held
// from the log: SQLite has no cheap way to undo one step of a long
// transaction (a SAVEPOINT per batch copies every page the batch touches
// to a sub-journal first, which measured twice the CPU per put), and steps
// fail only on a full disk or a broken file. Counters change only on
// success.
func (w *writer) tryTx(batch []*request, todo []int, res []result, now int64) (int, error) {
	if err := w.begin(); err != nil {
		return -1, err
	}
	if err := w.log.rotateIfFull(); err != nil {
		return -1, err
	}
	var st txState
	if err := w.readTotals(&st); err != nil {
		w.abort()
		return -1, err
	}
	st.lastSeq = w.lastSeq
	w.buf, w.pend = w.buf[:0], w.pend[:0]
	// The records' bytes at once: grown by appends, a batch of large blobs went through a
	// chain of doubling buffers (1+2+4+8+16 MiB for 12 MiB of records), garbage that took a
	// relay under attack over its 64 MB (scripts/hostile: 66.5 -> 61.7 MB, issue #15).
	need := 0
	for _, i := range todo {
		need += recHeader + len(batch[i].blob.Envelope)
	}
	w.buf = slices.Grow(w.buf, need)
	for k, i := range todo {
		inserted, err := w.put(&batch[i].blob, now, &st)
		if err != nil && err != ErrFull && err != ErrQuotaExceeded && err != ErrOverShare && err != ErrExpired {
			w.abort()
			return k, err
		}
		res[i] = result{inserted, err}
	}
	err := w.log.write(w.buf)
	w.trimBuf()
	if err != nil {
		w.abort()
		return -1, err
	}
	w.txPuts += len(w.pend)
	w.dirty = w.dirty || len(w.pend) > 0 || w.mustCommit
	w.lastSeq = st.lastSeq
	w.s.ov.add(w.pend)
	clear(w.pend)
	w.apply(&st)
	w.s.commits.Add(1)
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
}

// put inserts one blob inside the open transaction. The returned error is
// a sentinel for a refusal, or a database error that aborts the
// transaction.
func (w *writer) put(b *Blob, now int64, st *txState) (bool, error) {
	opt := &w.s.opt
	if b.Expiry <= now {
		return false, ErrExpired
	}
	// The common case is one statement: INSERT OR IGNORE finds a duplicate
	// itself (the UNIQUE index on expiry and ID, schema.go migration 4). A tagged blob first reads its mailbox's
	// counts; only a put that a quota or the global cap would refuse looks
	// the ID up first, so that a duplicate is reported as such and never
	// makes room by evicting.
	size := int64(len(b.Envelope))
	// Untagged blobs share one quota, counted under the zero tag, of MaxUntaggedBytes; no cap
	// on their number (Echo traffic and many small blobs are untagged).
	var n, bytes int64
	if err := w.mailbox.QueryRow(b.Tag[:]).Scan(&n, &bytes); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	if c := w.insMailbox[b.Tag]; c != nil {
		n, bytes = n+c.blobs, bytes+c.bytes
	}
	maxBytes, maxBlobs := opt.MaxMailboxBytes, int64(opt.MaxMailboxBlobs)
	if b.Tag == ([32]byte{}) {
		maxBytes, maxBlobs = opt.MaxUntaggedBytes, math.MaxInt64
	}
	if n >= maxBlobs || bytes+size > maxBytes {
		if known, err := w.isKnown(b.ID, b.Expiry); err != nil || known {
			return false, err
		}
		return false, ErrQuotaExceeded
	}
	if st.bytes+size > opt.MaxBytes {
		if known, err := w.isKnown(b.ID, b.Expiry); err != nil || known {
			return false, err
		}
		ok, err := w.evict(st.bytes+size-opt.MaxBytes, b, st)
		if err != nil || !ok {
			return false, err
		}
	}
	seq := st.lastSeq + 1
	at := logPos{w.log.seg, w.log.end + int64(len(w.buf))}
	if ok, err := w.indexRow(seq, b.ID, b.Tag, b.Source, b.Expiry, size, at); err != nil || !ok {
		return false, err
	}
	w.buf = appendRecord(w.buf, uint64(seq), b)
	w.pend = append(w.pend, &pent{seq: uint64(seq), id: b.ID, tag: b.Tag, expiry: b.Expiry, at: at, size: len(b.Envelope)})
	st.lastSeq = seq
	st.blobs++
	st.bytes += size
	return true, nil
}

func (w *writer) isKnown(id [32]byte, expiry int64) (bool, error) {
	var known bool
	err := w.known.QueryRow(expiry, id[:]).Scan(&known)
	return known, err
}

// indexRow inserts the index row of one blob and counts it for
// applyCounts. It reports false for an ID or seq already present.
func (w *writer) indexRow(seq int64, id, tag [32]byte, src [8]byte, expiry, size int64, at logPos) (bool, error) {
	var tagv any // NULL for untagged
	if tag != ([32]byte{}) {
		tagv = tag[:]
	}
	r, err := w.insert.Exec(seq, id[:], tagv, expiry, size, int64(at.seg), at.off, src[:])
	if err != nil {
		return false, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return false, nil
	}
	w.insBlobs++
	w.insBytes += size
	addCount(&w.insMailbox, tag, size) // the zero tag: untagged
	addCount(&w.insSource, src, size)
	if w.insSegment == nil {
		w.insSegment = map[uint64]*count{}
	}
	c := w.insSegment[at.seg]
	if c == nil {
		c = new(count)
		w.insSegment[at.seg] = c
	}
	c.blobs++
	c.bytes += size + recHeader
	return true, nil
}

func addCount[K comparable](m *map[K]*count, k K, size int64) {
	if *m == nil {
		*m = map[K]*count{}
	}
	c := (*m)[k]
	if c == nil {
		c = new(count)
		(*m)[k] = c
	}
	c.blobs++
	c.bytes += size
}

// readTotals reads the totals row plus what the open transaction inserted.
func (w *writer) readTotals(st *txState) error {
	if err := w.totals.QueryRow().Scan(&st.blobs, &st.bytes); err != nil {
		return err
	}
	st.blobs += w.insBlobs
	st.bytes += w.insBytes
	return nil
}

// applyCounts adds the open transaction's inserts to the totals, mailbox
// and segments rows: once before it commits, and before a delete, whose
// triggers subtract from those rows.
func (w *writer) applyCounts() error {
	if w.insBlobs != 0 {
		if _, err := w.addTotals.Exec(w.insBlobs, w.insBytes); err != nil {
			return err
		}
	}
	for tag, c := range w.insMailbox {
		if _, err := w.addMailbox.Exec(tag[:], c.blobs, c.bytes); err != nil {
			return err
		}
	}
	for seg, c := range w.insSegment {
		if _, err := w.addSegment.Exec(int64(seg), c.blobs, c.bytes); err != nil {
			return err
		}
	}
	for src, c := range w.insSource {
		if _, err := w.addSource.Exec(src[:], c.blobs, c.bytes); err != nil {
			return err
		}
	}
	w.dropCounts()
	return nil
}

func (w *writer) dropCounts() {
	w.insBlobs, w.insBytes = 0, 0
	clear(w.insMailbox)
	clear(w.insSegment)
	clear(w.insSource)
}

// evict makes room for b, need bytes, by fair shares. A source's share is MaxBytes over the
// number of sources holding blobs (b's counted). A source within its share takes room from
// the largest other sources, their soonest-expiring blobs first, one blob at a time from
// whichever holds the most (among the maxEvictSources largest); so no source can push
// others' blobs out while it holds more than its share. A source over its share makes room
// only from its own blobs that expire before b (a relay fed by one neighbour stays a rolling
// cache), else it is refused with ErrOverShare. Nothing is deleted unless enough room is
// found. The zero source (blobs from before sources were recorded) is one source.
func (w *writer) evict(need int64, b *Blob, st *txState) (bool, error) {
	if need > w.s.opt.MaxBytes {
		return false, ErrFull
	}
	if err := w.applyCounts(); err != nil { // the sources rows must include this transaction
		return false, err
	}
	var mine, nsrc int64
	if err := w.source.QueryRow(b.Source[:]).Scan(&mine); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	if err := w.nSources.QueryRow().Scan(&nsrc); err != nil {
		return false, err
	}
	if mine == 0 {
		nsrc++
	}
	pools, before, refusal := map[[8]byte]*evictPool{b.Source: {bytes: mine}}, b.Expiry, ErrOverShare
	if nsrc == 1 {
		refusal = ErrFull // the only source: nobody else's share to protect
	}
	if share := w.s.opt.MaxBytes / max(1, nsrc); mine+int64(len(b.Envelope)) <= share {
		var err error
		if pools, err = w.largestOthers(b.Source); err != nil {
			return false, err
		}
		before, refusal = math.MaxInt64, ErrFull
	}
	var seqs []int64
	var freed int64
	for freed < need {
		var top *evictPool
		var topSrc [8]byte
		for src, p := range pools {
			if p.bytes > 0 && (top == nil || p.bytes > top.bytes) {
				top, topSrc = p, src
			}
		}
		if top == nil {
			break
		}
		if len(top.next) == 0 {
			page, err := w.sourcePage(topSrc, before, top.used)
			if err != nil {
				return false, err
			}
			if len(page) == 0 { // counted bytes without rows: stop counting this source
				top.bytes = 0
				continue
			}
			top.next = page
		}
		seq, size := top.next[0], top.next[1]
		top.next = top.next[2:]
		top.used++
		top.bytes -= size
		seqs = append(seqs, seq)
		freed += size
	}
	if freed < need {
		return false, refusal
	}
	for _, seq := range seqs {
		if _, err := w.del.Exec(seq); err != nil {
			return false, err
		}
	}
	st.blobs -= int64(len(seqs))
	st.bytes -= freed
	st.evicted += uint64(len(seqs))
	w.mustCommit = true // so readers stop seeing them
	return true, nil
}

// largestOthers returns the maxEvictSources sources holding the most bytes, except src.
func (w *writer) largestOthers(src [8]byte) (map[[8]byte]*evictPool, error) {
	rows, err := w.largest.Query(src[:], maxEvictSources)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pools := map[[8]byte]*evictPool{}
	for rows.Next() {
		var raw []byte
		p := new(evictPool)
		if err := rows.Scan(&raw, &p.bytes); err != nil {
			return nil, err
		}
		pools[[8]byte(raw)] = p
	}
	return pools, rows.Err()
}

// sourcePage reads the next evictPage blobs of src that expire before before, in expiry
// order after the first skip, as (seq, size) pairs.
func (w *writer) sourcePage(src [8]byte, before, skip int64) ([]int64, error) {
	rows, err := w.ofSource.Query(src[:], before, evictPage, skip)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var seq, size int64
		if err := rows.Scan(&seq, &size); err != nil {
			return nil, err
		}
		out = append(out, seq, size)
	}
	return out, rows.Err()
}
