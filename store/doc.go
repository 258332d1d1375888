// Package store is the relay's blob cache: one SQLite file holding the
// opaque envelopes a relay keeps for offline friends and floods to its
// neighbours.
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
// equal puts in one batch. Expired blobs (expiry <= now) are never returned
// by Get, Fetch or RangeIDs; Has still reports them until the sweep (at
// Open and every SweepEvery) deletes them, so a blob flooded back after it
// expired is not stored again.
//
// # Limits
//
//   - MaxBytes caps the envelope bytes of the whole store. A Put that would
//     exceed it evicts the blobs that expire soonest, but only blobs that
//     expire before the new one, and only if that frees enough; otherwise
//     it fails with ErrFull and evicts nothing. SQLITE_FULL (disk full,
//     max_page_count) also fails just the affected Put with ErrFull.
//   - A non-zero tag is a mailbox with MaxMailboxBlobs and MaxMailboxBytes:
//     beyond them Put fails with ErrQuotaExceeded. Untagged blobs only
//     count against MaxBytes. Expired blobs count until swept: quotas do
//     not trigger a sweep of their own.
//
// Checks run in this order: expiry (ErrExpired), duplicate (inserted
// false, even in a full mailbox), mailbox quota, global cap.
//
// ErrFull and ErrQuotaExceeded are *RejectError values whose Reason method
// gives the wire reason ("store_full", "quota_exceeded"), so the protocol
// layer can recognise them without importing this package.
//
// # Writes and durability
//
// One goroutine, the committer, owns the only write connection. Puts are
// queued to it; it gathers them for up to CommitDelay or MaxBatch puts,
// runs them in one transaction with prepared statements, commits, and only
// then completes them: Put returns, PutAsync calls back. One fsync thus
// covers a whole batch, which is what makes synchronous=FULL affordable.
//
// The file is in WAL mode with synchronous=FULL: every commit fsyncs the
// WAL before Put returns, so an acknowledged blob survives both kill -9 and
// a power cut. synchronous=NORMAL would survive a process crash too, but a
// power cut could silently drop the last commits before the next
// checkpoint — blobs the relay already acknowledged upstream and will not
// be sent again. A Raspberry Pi loses power far more often than a server,
// and group commit makes FULL cheap (see the measurements below), so FULL.
//
// A statement that fails inside a batch (SQLITE_FULL above all) rolls the
// transaction back; the batch is retried without that put, so the others
// still commit and nothing committed earlier is touched. If COMMIT itself
// fails for lack of space, each put is retried in its own transaction.
//
// Close stops accepting puts, commits everything already queued (their
// callbacks run) and then closes the file; a Put racing with Close either
// commits or gets ErrClosed.
//
// # Schema
//
// Migrations are an append-only list run in order, each in its own
// transaction with PRAGMA user_version (schema.go): version 1 is the blobs
// table, version 2 adds the trigger-kept totals and backfills them. A file
// from a newer program is refused with ErrSchemaTooNew.
//
//	blobs(seq INTEGER PRIMARY KEY AUTOINCREMENT, id UNIQUE, tag, expiry, size, env)
//	  blobs_tag    (tag, seq, expiry) WHERE tag IS NOT NULL  -- mailbox paging, expiry filtered in the index
//	  blobs_expiry (expiry, id)                              -- sweep, eviction, RangeIDs
//	mailbox(tag PRIMARY KEY, blobs, bytes) WITHOUT ROWID      -- per-tag quota totals
//	totals(blobs, bytes)                                      -- one row, for Stats and MaxBytes
//
// mailbox and totals are kept by triggers in the same transaction as the
// inserts and deletes they count, so quota checks and Stats never scan and
// Open does not read the whole file (measured: reading a 10,000-blob
// mailbox's count and bytes with a query takes 11 ms, its mailbox row
// 14 µs). blobs keeps its rowid and seq order: the same table WITHOUT
// ROWID keyed by id puts whole envelopes into b-tree keys and measured
// 3.2x the file size, 3x slower inserts and 7x slower mailbox reads. The
// small columns come before env so eviction reads only a row's first page.
//
// Deletes are chunked (sweepChunk rows per transaction) so that a large
// sweep neither grows the WAL much nor holds up puts, which are committed
// between chunks.
//
// # SD cards
//
// Space: a uniform 1 KiB envelope costs about 1,520 bytes of file: 78
// bytes of row, ~150 bytes in the three indexes, and ~255 bytes of page
// slack because a 4 KiB page holds three such rows (mixed sizes pack
// better).
//
// Writes: each put dirties the tail of the table, one leaf of each
// random-key index (id, and tag) and a few hot pages (totals, mailbox,
// sqlite_sequence, the expiry index tail). Group commit shares the hot
// pages across a batch; the random leaves are an inherent B-tree cost of
// about 8 KiB of WAL per put once the indexes outgrow a batch. Every WAL
// page is written once more by a checkpoint. To keep that off the put
// path, the committer never checkpoints (its auto-checkpoint is only a
// 64 MiB safety net): a separate goroutine with its own connection runs
// PASSIVE checkpoints, which do not block the writer, after every 32 MiB
// of WAL — rarely enough that hot pages reach the database file once per
// checkpoint, not once per commit. Stats.PagesWritten counts WAL pages.
//
// Reads (Has, Get, Fetch, RangeIDs) use a separate pool of read-only
// connections; under WAL they never wait for the writer.
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
// # Measurements
//
// go test -bench . -benchmem on a shared 2-vCPU AMD EPYC VM (load average
// ~15 from other jobs, so take the ranges, not the digits), 1 KiB
// envelopes, 1000 mailboxes:
//
//	BenchmarkPut, 128 concurrent callers, FULL    9,000–14,000 puts/s, ~127 puts/commit
//	BenchmarkPut, same, synchronous=NORMAL        10,000–11,500 puts/s (no gain: CPU-bound)
//	BenchmarkPutSerial, one caller                4.2–4.5 ms per Put (2 ms window + fsync)
//	WAL bytes written per put                     ~10 KiB (20k puts); ~17 KiB with checkpoints (100k puts)
//	BenchmarkFetchMailbox100, 100k rows           0.26 ms, 1,536 allocs
//	BenchmarkFetchMailbox100, 1 M rows (1.45 GiB) 1.0–1.6 ms (rows spread over the file; warm OS cache)
//	BenchmarkFetchTags10x10, 100k / 1 M rows      0.38 ms / 1–4.6 ms
//	BenchmarkHas, 1 M rows                        8–30 µs
//	BenchmarkRangeIDs, 1000 keys, 1 M rows        0.6–3 ms
//
// FULL costs almost nothing over NORMAL here because one fsync covers a
// whole batch; on an SD card, where an fsync takes milliseconds, batches
// grow by themselves while the previous commit syncs. The suite also
// passes under qemu-aarch64 and qemu-arm (GOARM=7) with CGO_ENABLED=0;
// no Raspberry Pi was measured. ECHORELAY_BENCH_ROWS=1000000 reproduces
// the 1 M row fixture.
package store
