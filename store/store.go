package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Blob is one stored envelope. The store never looks inside Envelope.
type Blob struct {
	ID       [32]byte // SHA-256 of Envelope, computed by the caller
	Tag      [32]byte // mailbox tag; all zero = untagged
	Source   [8]byte  // who brought it, for fair shares of a full store (a hash the caller derives; zero = unknown)
	Expiry   int64    // unix seconds; the blob is gone once the clock reaches it
	Envelope []byte
}

// Item is a Blob with its cursor position.
type Item struct {
	Seq uint64
	Blob
}

// Key orders blobs for set reconciliation: by Expiry, then ID.
type Key struct {
	Expiry int64
	ID     [32]byte
}

// Stats is a snapshot of the store's counters. Blobs and Bytes count every
// row still in the file, including expired blobs not yet swept.
type Stats struct {
	Blobs         int64
	Bytes         int64 // envelope bytes
	MaxBytes      int64
	SyncEvery     time.Duration // Options.SyncEvery: 0 = every batch fsynced before its ack
	Evicted       uint64        // blobs removed early to make room under MaxBytes
	Swept         uint64        // expired blobs removed by sweeps
	Full          uint64        // puts refused with ErrFull
	QuotaExceeded uint64        // puts refused with ErrQuotaExceeded
	OverShare     uint64        // puts refused with ErrOverShare
	Commits       uint64        // batches appended to the blob log in one write (puts per commit = group-commit factor)
	LogSyncs      uint64        // fsyncs of the blob log: one per commit, or fewer with Options.SyncEvery
	SyncFailures  uint64        // deferred fsyncs (Options.SyncEvery) that failed
	IndexCommits  uint64        // index transactions committed (each covers up to FlushBlobs puts)
	PagesWritten  uint64        // 4 KiB pages appended to the WAL (each is written again by a checkpoint)
	Checkpoints   uint64        // background checkpoints run
	LogBytes      int64         // size of the blob log's segments on disk
	Compactions   uint64        // sparse log segments moved and deleted
}

// Store is a blob cache in one SQLite file. Its methods are safe for
// concurrent use.
type Store struct {
	opt Options
	log *slog.Logger

	// Writer side, owned by the committer goroutine after Open.
	wdb  *sql.DB
	w    *writer
	reqs chan *request // closed by Close, under mu
	// sweeps carries Sweep calls to the committer.
	sweeps chan chan sweepResult
	// syncs carries Sync calls to the committer.
	syncs chan chan error
	done  chan struct{} // closed when the committer has exited

	mu     sync.RWMutex // guards closed and sends on reqs
	closed bool

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// Reader side.
	rdb *sql.DB
	r   *readStmts
	ov  *overlay
	// commitMu is held by the committer while it commits the index
	// transaction and empties the overlay, and by readers that must see
	// each blob exactly once (RangeIDs, RangeCount).
	commitMu    sync.RWMutex
	flushTimer  *time.Timer // commits an idle index transaction after FlushEvery
	logSync     later       // fsyncs the blob log SyncEvery after its first unsynced append
	compactStep later       // runs the next compaction step (writer.compact)

	// Checkpointer (checkpoint.go).
	cdb      *sql.DB
	kick     chan struct{}
	stopCkpt chan struct{}
	ckptDone chan struct{}

	blobs, bytes                             atomic.Int64
	lastSeq                                  atomic.Uint64
	evicted, swept, full, overQuo, overShare atomic.Uint64
	commits, indexCommits                    atomic.Uint64
	compactions                              atomic.Uint64
	pagesWritten, checkpoints                atomic.Uint64
	syncFailures                             atomic.Uint64
	compactSteps                             atomic.Uint64 // compaction steps run (tests)
}

// Open opens or creates the store at path (its directory is created too),
// brings the schema up to date, sweeps expired blobs and starts the
// committer and the periodic sweeper.
func Open(path string, opt Options) (*Store, error) {
	opt = opt.withDefaults()
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("failed to open store: path %q must not contain '?' or '#'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("failed to create store directory: %w", err)
	}
	s := &Store{
		opt:      opt,
		log:      opt.Logger,
		reqs:     make(chan *request, queueDepth),
		sweeps:   make(chan chan sweepResult),
		syncs:    make(chan chan error),
		done:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		stopCkpt: make(chan struct{}),
		ckptDone: make(chan struct{}),
		ov:       newOverlay(),
	}
	s.flushTimer = time.NewTimer(time.Hour)
	s.flushTimer.Stop()
	s.logSync, s.compactStep = newLater(), newLater()
	if err := s.openWriter(path); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.openReaders(path); err != nil {
		s.closeDBs()
		return nil, err
	}
	cdb, err := sql.Open("sqlite", fmt.Sprintf("%s?_pragma=synchronous(%s)", path, cmp.Or(s.opt.synchronous, "FULL")))
	if err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("failed to open database: %w", err)
	}
	s.cdb = cdb
	cdb.SetMaxOpenConns(1)
	// A full disk can make the sweep fail; the store still serves reads,
	// and the periodic sweep tries again.
	if _, err := s.sweepAll(false); err != nil {
		s.log.Warn("store: sweep at open failed", "err", err)
	}
	s.w.compactSoon() // segments left sparse by the last run, even if no put comes
	go s.checkpointer(cdb)
	go s.run()
	return s, nil
}

func (s *Store) openWriter(path string) error {
	ctx := context.Background()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return fmt.Errorf("failed to open database: %w", err)
	}
	s.wdb = db
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("failed to open database: %w", err)
	}
	pragmas := []string{
		fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeoutMillis),
		"PRAGMA journal_mode = WAL",
		// FULL while migrations create or change the schema; NORMAL after.
		"PRAGMA synchronous = " + cmp.Or(s.opt.synchronous, "FULL"),
		fmt.Sprintf("PRAGMA cache_size = -%d", writerCacheKiB),
		fmt.Sprintf("PRAGMA journal_size_limit = %d", walSizeLimit),
		fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walSafetyPages),
	}
	if s.opt.MaxPageCount > 0 {
		pragmas = append(pragmas, fmt.Sprintf("PRAGMA max_page_count = %d", s.opt.MaxPageCount))
	}
	for _, p := range pragmas {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			conn.Close()
			return fmt.Errorf("failed to configure database (%s): %w", p, err)
		}
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		conn.Close()
		return fmt.Errorf("failed to enable WAL (mode %q): %v", mode, err)
	}
	// Migrations sort whole indexes (version 4 rebuilds the table): their
	// sorter spills to temporary files, so that a million rows do not sort
	// in memory. After them, statement journals stay off the disk.
	if err := migrate(ctx, conn, len(migrations), s.log); err != nil {
		conn.Close()
		return err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		conn.Close()
		return fmt.Errorf("failed to configure database (temp_store): %w", err)
	}
	// NORMAL: an index commit writes the WAL without an fsync (the
	// checkpointer's fsync makes it durable), so puts do not wait for one.
	// What a power cut takes back, Open replays from the blob log, and
	// dropEmptySegments fsyncs the WAL before it deletes a segment. The
	// schema itself was committed with FULL above: a file that lost it
	// would be a new, empty store.
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+cmp.Or(s.opt.synchronous, "NORMAL")); err != nil {
		conn.Close()
		return fmt.Errorf("failed to configure database (synchronous): %w", err)
	}
	w := &writer{s: s, conn: conn, timer: time.NewTimer(time.Hour), wal: path + "-wal"}
	s.w = w
	w.timer.Stop()
	if err := w.prepare(); err != nil {
		return err
	}
	var last int64
	err = conn.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = 'blobs'").Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("failed to read last seq: %w", err)
	}
	w.lastSeq = last
	var seg, off int64
	if err := conn.QueryRowContext(ctx, "SELECT seg, off FROM logpos").Scan(&seg, &off); err != nil {
		return fmt.Errorf("failed to read log position: %w", err)
	}
	w.committed = logPos{uint64(seg), off}
	if w.log, err = openLog(logDir(path), s.opt.SegmentBytes, s.opt.MaxLogBytes); err != nil {
		return err
	}
	w.log.deferSync = s.opt.SyncEvery > 0
	if s.opt.fsync != nil {
		w.log.fsync = s.opt.fsync
	}
	if err := s.recover(); err != nil {
		return err
	}
	var blobs, bytes int64
	if err := conn.QueryRowContext(ctx, "SELECT blobs, bytes FROM totals").Scan(&blobs, &bytes); err != nil {
		return fmt.Errorf("failed to read totals: %w", err)
	}
	s.blobs.Store(blobs)
	s.bytes.Store(bytes)
	s.lastSeq.Store(uint64(w.lastSeq))
	return nil
}

// logDir is where the blob log of the store file at path lives.
func logDir(path string) string { return path + "-log" }

// recover indexes the log records that the last committed index
// transaction did not cover (puts acknowledged before a crash), truncating
// a torn tail, and opens the log for appending.
func (s *Store) recover() error {
	w := s.w
	if _, err := w.conn.ExecContext(bg, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("failed to recover blob log: %w", err)
	}
	end, n, err := w.replay(w.committed)
	if err == nil {
		err = w.commitTx(end)
	}
	if err != nil {
		rollback(w.conn)
		return fmt.Errorf("failed to recover blob log: %w", err)
	}
	if n > 0 {
		s.log.Info("store: indexed blobs from the log that were acknowledged before an unclean stop", "n", n)
	}
	if err := w.log.start(end); err != nil {
		return err
	}
	w.committed = w.log.pos()
	w.dropEmptySegments()
	return nil
}

func (s *Store) openReaders(path string) error {
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=query_only(1)", path, busyTimeoutMillis)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("failed to open database: %w", err)
	}
	s.rdb = db
	db.SetMaxOpenConns(s.opt.Readers)
	db.SetMaxIdleConns(s.opt.Readers)
	db.SetConnMaxIdleTime(0)
	r, err := prepareReads(db)
	if err != nil {
		return err
	}
	s.r = r
	return nil
}

// Close flushes queued puts (their callbacks run), stops the sweeper and
// closes the file. It is idempotent; later calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.closing.Store(true)
		close(s.reqs)
		s.mu.Unlock()
		<-s.done
		close(s.stopCkpt)
		<-s.ckptDone
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.r != nil {
		s.r.close()
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("failed to close store: %w", err)
	}
	return nil
}

// Stats returns the running counters; it does not touch the database.
func (s *Store) Stats() Stats {
	return Stats{
		Blobs:         s.blobs.Load(),
		Bytes:         s.bytes.Load(),
		MaxBytes:      s.opt.MaxBytes,
		SyncEvery:     s.opt.SyncEvery,
		Evicted:       s.evicted.Load(),
		Swept:         s.swept.Load(),
		Full:          s.full.Load(),
		QuotaExceeded: s.overQuo.Load(),
		OverShare:     s.overShare.Load(),
		Commits:       s.commits.Load(),
		LogSyncs:      s.w.log.syncs.Load(),
		SyncFailures:  s.syncFailures.Load(),
		IndexCommits:  s.indexCommits.Load(),
		PagesWritten:  s.pagesWritten.Load(),
		Checkpoints:   s.checkpoints.Load(),
		LogBytes:      s.w.log.size.Load(),
		Compactions:   s.compactions.Load(),
	}
}

// later is a timer for work the committer does once, a while after it is
// first asked for; asking again while it is pending changes nothing. Only
// the committer uses it: the run loop clears pending when it fires.
type later struct {
	*time.Timer
	pending bool
}

func newLater() later {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return later{Timer: t}
}

// after has the timer fire in d unless it is pending already.
func (l *later) after(d time.Duration) {
	if !l.pending {
		l.Reset(d)
		l.pending = true
	}
}

// LastSeq is the highest Seq ever committed (0 for a new store). Seqs are
// never reused, even after the blob is gone.
func (s *Store) LastSeq() uint64 { return s.lastSeq.Load() }

func (s *Store) now() int64 { return s.opt.Now().Unix() }

// run is the committer: the only goroutine that writes.
func (s *Store) run() {
	defer close(s.done)
	defer func() { _ = s.w.commitIndex() }()
	tick := time.NewTicker(s.opt.SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.flushTimer.C:
			_ = s.w.commitIndex() // logged; retried at the next step
		case <-s.logSync.C:
			s.logSync.pending = false
			s.w.syncLog()
		case <-s.compactStep.C:
			s.compactStep.pending = false
			s.w.compact()
		case reply := <-s.syncs:
			reply <- s.w.commitIndex()
		case r, ok := <-s.reqs:
			if !ok {
				return
			}
			if !s.collect(r, s.w.timer) {
				return
			}
		case reply := <-s.sweeps:
			n, err := s.sweepAll(true)
			reply <- sweepResult{n, err}
		case <-tick.C:
			if _, err := s.sweepAll(true); err != nil {
				s.log.Warn("store: sweep failed", "err", err)
			}
		}
		if s.w.reqsClosed {
			return
		}
	}
}

// collect gathers a batch starting with first for up to CommitDelay or
// MaxBatch puts, commits it, and reports false when reqs was closed (the
// batch is committed regardless).
func (s *Store) collect(first *request, timer *time.Timer) bool {
	batch := s.w.batch[:0]
	batch = append(batch, first)
	open := true
	if s.opt.CommitDelay > 0 {
		timer.Reset(s.opt.CommitDelay)
	wait:
		for len(batch) < s.opt.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					open = false
					break wait
				}
				batch = append(batch, r)
			case <-timer.C:
				break wait
			}
		}
		timer.Stop()
	}
drain:
	for open && len(batch) < s.opt.MaxBatch {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				open = false
				break drain
			}
			batch = append(batch, r)
		default:
			break drain
		}
	}
	s.w.commit(batch)
	clear(batch)
	s.w.batch = batch[:0]
	if !open {
		s.w.reqsClosed = true
	}
	return open
}

// Sync commits the index transaction now, so that the SQLite file alone
// (without the log's replay at Open) holds every acknowledged blob. Puts
// are durable without it; tests and tools that read the file use it.
func (s *Store) Sync() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	reply := make(chan error, 1)
	s.syncs <- reply // the committer cannot exit while we hold mu
	s.mu.RUnlock()
	return <-reply
}
