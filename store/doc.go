// Package store is the relay's blob cache: the opaque envelopes a relay
// keeps for offline friends and floods to its neighbours, in an append-only
// blob log, indexed by one SQLite file.
//
// The relay (package echo's server side, through cmd/echorelay) calls Put
// for every blob it accepts, Has to drop re-flooded duplicates early,
// Fetch to page a mailbox or the whole store out by cursor, and RangeIDs
// for set reconciliation with neighbours. The store never parses an
// envelope, never checks that ID is its hash, and never validates an
// expiry beyond refusing one that has already passed (ErrExpired): those
// are the caller's job. It imports no other package of this project.
//
// # Data model
//
// A blob is (ID, Tag, Expiry, Envelope). Every insert gets a Seq, the
// table's AUTOINCREMENT rowid: strictly increasing, never reused, also
// across restarts, so it is a cursor a client can resume from. Blobs are
// unique by ID: Put of a present ID reports inserted=false, including two
// equal puts in one batch. The store finds duplicates by (Expiry, ID), so
// the caller must never give one ID two expiries; an ID that is the hash
// of an envelope carrying its expiry (as package echo's are) cannot. Expired blobs (expiry <= now) are never returned
// by Get, Fetch or RangeIDs; Has still reports them until the sweep (at
// Open and every SweepEvery) deletes them, so a blob flooded back after it
// expired is not stored again.
//
// # Limits
//
//   - MaxBytes caps the envelope bytes of the whole store, shared fairly
//     among sources. Every blob records its Source (8 bytes the caller
//     derives from a client's address or a neighbour's key; zero = unknown),
//     and a source's share is MaxBytes over the number of sources holding
//     blobs. A Put that would exceed MaxBytes by a source within its share
//     evicts the largest sources' soonest-expiring blobs (one at a time from
//     whichever holds the most); by a source over its share it evicts only
//     that source's own blobs that expire before the new one, else fails
//     with ErrOverShare (ErrFull when it is the only source). Nothing is
//     evicted unless that frees enough. So a client or neighbour that floods
//     the cache cannot push out the messages others put there (issue #15),
//     while a relay fed by one neighbour stays a rolling cache. SQLITE_FULL
//     (disk full, max_page_count) also fails just the affected Put with
//     ErrFull.
//   - A non-zero tag is a mailbox with MaxMailboxBlobs and MaxMailboxBytes;
//     all untagged blobs together are one more, with MaxUntaggedBytes (and
//     no cap on their number):
//     beyond them Put fails with ErrQuotaExceeded. Expired blobs count until
//     swept: quotas do not trigger a sweep of their own.
//
// Checks run in this order: expiry (ErrExpired), duplicate (inserted
// false, even in a full mailbox), mailbox quota, global cap.
//
// ErrFull, ErrOverShare and ErrQuotaExceeded are *RejectError values whose
// Reason method gives the wire reason ("store_full", "quota_exceeded"), so the protocol
// layer can recognise them without importing this package.
//
// # Writes and durability
//
// One goroutine, the committer, owns the only write connection and the
// blob log. Puts are queued to it; it gathers them for up to CommitDelay or
// MaxBatch puts, appends their records to the log in one write, fsyncs it,
// and only then completes them: Put returns, PutAsync calls back. One fsync
// thus covers a whole batch, and an acknowledged blob survives kill -9 and
// a power cut. That is the default because a Raspberry Pi loses power far
// more often than a server.
//
// Options.SyncEvery is the opt-in for flash that wears: a batch is
// acknowledged once its records are written (into the kernel's page
// cache), and the committer fsyncs the log SyncEvery after the first
// unsynced write, before every index commit (the index never points at
// records that are not on disk), before leaving a full segment, and at
// Close. Lone puts then share their pages instead of dirtying one each per
// fsync. kill -9 loses nothing (the kernel still has the pages); a power
// cut or kernel crash loses the puts of the last interval, and Open's
// recovery treats what is left of them as it treats any torn tail. A failed
// deferred fsync is logged as an error and counted (Stats.SyncFailures).
//
// The blob log (vlog.go) is a directory of segment files next to the
// SQLite file (cache.db-log/ for cache.db). Each record carries the
// envelope, its seq, ID, tag and expiry, and a CRC-32C; an envelope is
// written to disk exactly once. SQLite holds only the index: a small row
// per blob with the record's place in the log. The committer puts those
// rows into one long SQLite transaction that stays open across batches and
// commits every FlushBlobs puts (8192), after FlushEvery (10 s), after
// deletions (so evicted or swept blobs stop being served) and on Close —
// so the random B-tree leaves of the ID and tag indexes are written once
// per thousands of puts, not once per fsync. Until that commit, other
// connections cannot see the rows: an in-memory overlay (overlay.go) shows
// the acknowledged puts to Has, Get, Fetch, RangeIDs and RangeCount.
//
// Each index commit also records logpos, the end of the log it covers.
// After a crash, Open replays the records after logpos into the index (they
// were acknowledged, so quotas are not checked again), cuts off a torn
// record at the end of the log (it was never acknowledged) and carries on.
// The index commits with synchronous=NORMAL in WAL mode: COMMIT writes the
// WAL but does not wait for an fsync (the checkpointer's fsync makes it
// durable soon after), so the puts queued behind a commit are not held up
// by one. A power cut can thus take back the last index commits; Open then
// replays more of the log — and it still can, because a segment file is
// deleted only after an fsync of the WAL has made durable the commit that
// emptied it (dropEmptySegments). Blobs that such a lost commit had swept
// or evicted come back until the next sweep or eviction; none that was
// acknowledged is lost.
//
// A statement that fails inside a batch (SQLITE_FULL above all) rolls the
// batch back to its savepoint, and the batch is retried without that put;
// a failed log write (disk full, or MaxLogBytes) cuts the log back and
// retries each put on its own, so the puts that fit still succeed. If
// SQLite rolls back the whole index transaction, or its commit fails, the
// rows it held are replayed from the log before the next batch; nothing
// acknowledged is lost.
//
// Space: a segment (SegmentBytes, 16 MiB) is deleted once no row points
// into it. Closed segments that are less than half live are compacted:
// their live records are copied to the end of the log and the rows
// re-pointed, in steps of compactChunk (256 KiB) each committed on its own,
// one step compactPause (20 ms) after each index commit while any is left,
// so puts are served between steps; the emptied segment is deleted. With
// mixed TTLs or after evictions the log thus stays within about twice the
// bytes it holds. MaxBytes counts envelope bytes,
// not the log's size on disk (Stats.LogBytes).
//
// Close stops accepting puts, commits everything already queued (their
// callbacks run), commits the index and then closes the files; a Put racing
// with Close either commits or gets ErrClosed.
//
// # Schema
//
// Migrations are an append-only list run in order, each in its own
// transaction with PRAGMA user_version (schema.go): version 1 is the blobs
// table, version 2 adds the trigger-kept totals and backfills them,
// version 3 moves new envelopes to the blob log, version 4 replaces the
// index of whole IDs (see below; the rebuild of a million-row table takes
// seconds and temporary files), version 5 records each blob's source for
// fair shares (a column with a default: no rebuild; one index and one
// count over the table). A file from a newer
// program is refused with ErrSchemaTooNew. Rows written before version 3
// keep their envelope inline (seg NULL) and are served from SQLite until
// they expire.
//
//	blobs(seq INTEGER PRIMARY KEY AUTOINCREMENT, id, tag, expiry, size, env, seg, off, src)
//	  blobs_tag    (tag, seq, expiry) WHERE tag IS NOT NULL  -- mailbox paging, expiry filtered in the index
//	  blobs_expiry UNIQUE (expiry, id)                       -- duplicates, sweep, eviction, RangeIDs
//	  blobs_gen_id (seq >> 16, substr(id, 1, 8))            -- Has and Get by ID: one probe per generation of 65,536 seqs
//	  blobs_seg    (seg) WHERE seg IS NOT NULL               -- a segment's rows, for compaction
//	  blobs_src    (src, expiry, id)                         -- a source's soonest-expiring blobs, for eviction
//	mailbox(tag PRIMARY KEY, blobs, bytes) WITHOUT ROWID      -- per-tag quota totals; the zero tag counts untagged blobs
//	sources(src PRIMARY KEY, blobs, bytes) WITHOUT ROWID      -- per-source totals, for fair shares
//	totals(blobs, bytes)                                      -- one row, for Stats and MaxBytes
//	segments(seg PRIMARY KEY, blobs, bytes)                   -- live rows and record bytes per log segment
//	logpos(seg, off)                                          -- end of the log covered by committed rows
//
// mailbox, sources, totals and segments are kept by triggers in the same
// transaction as the inserts and deletes they count, so quota checks and
// Stats never scan and Open does not read the whole file. The seq is
// assigned by the committer (the last seq plus one) and written both into
// the row and into the log record, so a replayed record gets its seq back.
//
// IDs are random, so an index keyed by ID gets each insert at a random
// leaf; once such an index outgrows the writer's 8 MiB page cache, every
// put reads a leaf and dirties it (at a million blobs that was most of the
// cost of a put and 3 KB of WAL). So no index is keyed by the ID first.
// Duplicates are found by the unique (expiry, id) index, whose inserts
// cluster because blobs stored together mostly expire together (a relay
// whose clients pick many different lifetimes gets one insert region per
// lifetime). Lookups by ID alone, which only reconciliation makes, use
// blobs_gen_id: keyed by the seq's generation first, its inserts all go to
// the newest generation (about 2 MB of index), and a lookup probes every
// generation that holds a row (found by rowid seeks, so generations emptied
// by sweeps cost nothing), compares 8 bytes of ID in the index and the
// whole ID on the row: about 16 probes at a million blobs. Fetch cursors, sweeps and eviction never look up by ID.
//
// Deletes are chunked (sweepChunk, 500 rows per transaction) so that a
// large sweep neither grows the WAL much nor holds up puts, which are
// committed between chunks (BenchmarkPutDuringReclaim: a lone put waits at
// most ~40 ms while 48 k blobs are swept; with 2 000 rows, ~90 ms).
//
// # SD cards
//
// Writes, measured by scripts/budgets with /proc/PID/io write_bytes (the
// kernel charges a whole 4 KiB page each time a clean page is dirtied):
// 10,000 blobs of 1 KiB pipelined over one link cost about 1.33 KB each
// (1.1 KB of log record plus the index rows, written a few thousand at a
// time); with the earlier all-in-SQLite layout it was 6–8 KB. A blob that
// arrives alone and is acknowledged alone dirties at least one 4 KiB page
// of the log for its fsync, so lone puts cost about 3.8 KB each (25 KB
// before); the figure falls as soon as puts share a commit.
//
// Space: a 1 KiB envelope costs its 1,112-byte log record and roughly 250
// bytes of index in the SQLite file.
//
// The WAL checkpoints of the index run on a separate goroutine with its
// own connection (PASSIVE, after every 32 MiB of WAL), so the committer
// never copies pages back into the database file itself.
// Stats.PagesWritten counts WAL pages.
//
// # Reads
//
// Fetch of one mailbox is a single walk of blobs_tag, which filters
// expiry in the index, reading only the rows it returns. Fetch of several
// mailboxes takes limit+1 seqs per tag from the index, merges them, and
// then reads the chosen rows by rowid in one statement (the seqs passed as
// a JSON array to json_each), so its cost grows with tags × limit index
// entries but only limit rows. Fetch of everything walks the rowid. The
// first item is returned even if it alone exceeds maxBytes, so paging
// always progresses; a transport that cannot carry it must skip it by
// cursor.
//
// Envelopes are read from the log with one positioned read each, and the
// record's length, CRC and ID are checked: a damaged record is an error,
// never wrong bytes. Puts not yet in a committed index transaction come
// from the overlay, after the rows SQLite returned (their seqs are
// higher), so a page is in seq order and a put is never returned twice.
// If compaction moved a record between the index read and the log read,
// the row is looked up again. RangeIDs and RangeCount hold off the index
// commit while they read, so they count each blob exactly once.
//
// # Measurements
//
// go test -bench . -benchmem on a shared 2-vCPU AMD EPYC VM (other
// tenants' load, so take the ranges, not the digits), 1 KiB envelopes,
// 1000 mailboxes:
//
//	BenchmarkPut, 128 concurrent callers           22–29 µs CPU per put, ~127 puts per fsync, 1.4 KB written per put
//	BenchmarkPut, same, FlushBlobs 512            28 µs CPU, 3.6 KB written per put (index committed 16x as often)
//	BenchmarkPutSerial, one caller                2.6 ms per Put (2 ms window + fsync)
//	BenchmarkFetchMailbox100, 100k rows           0.41 ms (100 positioned reads of the log), 2,142 allocs
//	BenchmarkFetchTags10x10, 100k rows            0.46 ms
//	BenchmarkHas, 100k rows                       13 µs (2 generations probed; 4.8 µs with the whole-ID index of version 3)
//	BenchmarkHas, 1 M rows                        18 µs (16 generations)
//	BenchmarkRangeIDs, 1000 keys, 100k rows       0.59 ms
//
// Before the blob log (everything in SQLite, one commit per batch) the
// same BenchmarkPut wrote 9.6–12 KB per put at 28–48 µs of CPU. A relay
// taking pipelined client puts (scripts/bench) went from 25,900 to 31,500–
// 48,000 msg/s and from 8.1 KB to 1.5–1.9 KB written per blob; with 1 M
// blobs stored from 11,500 to 20,500–20,900 msg/s, and there the random
// leaves of the ID, tag and expiry indexes still cost about 8 KB written
// per blob. Without the whole-ID index (version 4) the relay took 41,900
// msg/s with 1 M blobs stored, 1.02 of the same run's fresh rate, at 24 µs
// CPU and 1.9 KB written per blob (6.3 KB with an index of 8-byte ID
// prefixes, 8.2 KB with whole IDs). The suite also passes under qemu-aarch64 and qemu-arm
// (GOARM=6) with CGO_ENABLED=0; no Raspberry Pi was measured.
// ECHORELAY_BENCH_ROWS=1000000 reproduces the 1 M row fixture.
package store
