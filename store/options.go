package store

import (
	"log/slog"
	"os"
	"time"
)

// Defaults for the zero Options. They suit a Raspberry Pi with a 32 GB SD
// card shared with the OS.
const (
	DefaultMaxBytes        = 1 << 30 // 1 GiB of envelopes, ~1 M blobs of 1 KiB
	DefaultMaxMailboxBytes = 64 << 20
	DefaultMaxMailboxBlobs = 10000
	DefaultCommitDelay     = 2 * time.Millisecond // one fsync covers everything that arrives meanwhile
	DefaultMaxBatch        = 512
	DefaultSweepEvery      = time.Minute
	DefaultReaders         = 4                // read connections; each holds its own page cache
	DefaultFlushBlobs      = 8192             // puts per index transaction
	DefaultFlushEvery      = 10 * time.Second // longest an index transaction stays open

	busyTimeoutMillis = 5000
	queueDepth        = 2 * DefaultMaxBatch   // requests waiting for the committer before Put blocks
	sweepChunk        = 500                   // rows deleted per sweep transaction
	maxFetchLimit     = 1000                  // Fetch limit ceiling (and the value used for limit <= 0)
	walSizeLimit      = 64 << 20              // journal_size_limit: WAL file truncated back to this after checkpoints
	compactChunk      = 256 << 10             // live record bytes one compaction step moves
	compactPause      = 20 * time.Millisecond // between compaction steps, for the puts that queued meanwhile
)

// Options configures a Store. The zero value is usable.
type Options struct {
	MaxBytes         int64         // global cap on stored envelope bytes; default 1 GiB
	MaxMailboxBytes  int64         // cap per non-zero tag; default 64 MiB
	MaxUntaggedBytes int64         // cap on the bytes of all untagged blobs together, a quota like a mailbox's (no cap on their number); default MaxMailboxBytes
	MaxMailboxBlobs  int           // cap per non-zero tag; default 10000
	CommitDelay      time.Duration // group-commit window; default 2ms; negative = commit what is queued without waiting
	MaxBatch         int           // commit immediately once a batch holds this many puts; default 512
	// SyncEvery, if > 0, acknowledges a batch once its records are written
	// to the blob log (in the kernel's page cache) and fsyncs the log at
	// most this long after the first unsynced write, before every index
	// commit and at Close. A killed process loses nothing; a power cut or
	// kernel crash loses the puts acknowledged since the last fsync. For
	// flash that wears (SD cards): lone puts then share their pages. 0 (the
	// default) fsyncs every batch before acknowledging it.
	SyncEvery    time.Duration
	SweepEvery   time.Duration // expiry sweep period; default 1 min (the store also sweeps at Open)
	Readers      int           // read connections; default 4
	MaxPageCount int64         // if > 0, PRAGMA max_page_count: a hard file-size limit in pages (4 KiB)
	MaxLogBytes  int64         // if > 0, a hard limit on the blob log's size: appends beyond it fail as on a full disk
	SegmentBytes int64         // blob log segment size; default 16 MiB
	FlushBlobs   int           // commit the index after this many puts; default 8192
	FlushEvery   time.Duration // commit the index at least this often while puts arrive; default 10 s
	Logger       *slog.Logger  // nil = discard
	Now          func() time.Time

	// synchronous overrides PRAGMA synchronous of the write and checkpoint
	// connections (benchmarks only); by default NORMAL and FULL.
	synchronous string
	// checkpointPages overrides checkpointPages (tests only).
	checkpointPages int
	// onCheckpoint runs after each background checkpoint (tests only).
	onCheckpoint func()
	// compactChunk overrides compactChunk (tests only).
	compactChunk int64
	// fsync replaces (*os.File).Sync for the blob log's appends (tests only).
	fsync func(*os.File) error
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxMailboxBytes <= 0 {
		o.MaxMailboxBytes = DefaultMaxMailboxBytes
	}
	if o.MaxUntaggedBytes <= 0 {
		o.MaxUntaggedBytes = o.MaxMailboxBytes
	}
	if o.MaxMailboxBlobs <= 0 {
		o.MaxMailboxBlobs = DefaultMaxMailboxBlobs
	}
	if o.CommitDelay == 0 {
		o.CommitDelay = DefaultCommitDelay
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = DefaultSweepEvery
	}
	if o.Readers <= 0 {
		o.Readers = DefaultReaders
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.FlushBlobs <= 0 {
		o.FlushBlobs = DefaultFlushBlobs
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.checkpointPages <= 0 {
		o.checkpointPages = checkpointPages
	}
	if o.compactChunk <= 0 {
		o.compactChunk = compactChunk
	}
	return o
}

// writerCacheKiB is the write connection's page cache (8 MiB). The index
// transaction stays open for thousands of puts; pages it dirtied that do
// not fit are spilled to the WAL one write each and read back when touched
// again, which with SQLite's default 2 MiB cost a fifth of a put's CPU.
const writerCacheKiB = 8 << 10
