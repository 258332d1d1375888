package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
)

// The schema's triggers count a record's bytes as size + 88.
func TestRecordHeaderMatchesSchema(t *testing.T) {
	t.Parallel()
	if recHeader != 88 || !strings.Contains(migrations[2], "new.size + 88") {
		t.Fatalf("recHeader = %d; migration 3 must count the same header size", recHeader)
	}
	b := mkBlob(7, tagOf(3), t0+5, 100)
	rec := appendRecord(nil, 42, &b)
	if len(rec) != recHeader+100 {
		t.Fatalf("record of %d bytes, want %d", len(rec), recHeader+100)
	}
	r, ok := parseRecord(rec[4:])
	if !ok || r.seq != 42 || r.id != b.ID || r.tag != b.Tag || r.expiry != b.Expiry || !bytes.Equal(r.env, b.Envelope) {
		t.Fatalf("round trip: %+v, %v", r, ok)
	}
	rec[len(rec)-1] ^= 1
	if _, ok := parseRecord(rec[4:]); ok {
		t.Fatal("a flipped bit passed the checksum")
	}
}

// snapshotDir copies a live store's files, as a power cut would leave them:
// the index transaction still open, the log fsynced.
func snapshotDir(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy", filepath.Base(path))
	if err := os.MkdirAll(logDir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	cp := func(from, to string) {
		src, err := os.Open(from)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		out, err := os.Create(to)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, src); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	for _, suf := range []string{"", "-wal"} {
		cp(path+suf, dst+suf)
	}
	segs, err := listSegments(logDir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, seg := range segs {
		cp(segName(logDir(path), seg), segName(logDir(dst), seg))
	}
	return dst
}

// Acknowledged puts whose index rows were never committed come back from
// the log, and a torn record at its end is cut off.
func TestReplayAfterCrash(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	opt := Options{Now: c.Now, FlushBlobs: 1 << 20, FlushEvery: time.Hour}
	s := openStore(t, path, opt)
	var bl []Blob
	for i := range 300 {
		b := mkBlob(i, tagOf(byte(i%3+1)), t0+100, 700)
		bl = append(bl, b)
		mustPut(t, s, b)
		if i == 99 {
			if err := s.Sync(); err != nil { // the first 100 are committed
				t.Fatal(err)
			}
		}
	}
	if st := s.Stats(); st.IndexCommits != 1 {
		t.Fatalf("IndexCommits = %d, want 1", st.IndexCommits)
	}
	// Readers see the uncommitted puts through the overlay.
	if items, _, _, err := s.Fetch(nil, 0, 1000, 0); err != nil || len(items) != 300 {
		t.Fatalf("Fetch before the crash: %d items, %v", len(items), err)
	}
	crashed := snapshotDir(t, path)
	// A write that was cut short: a record header and half an envelope.
	segs, _ := listSegments(logDir(crashed))
	last := segName(logDir(crashed), segs[len(segs)-1])
	before, _ := os.Stat(last)
	torn := appendRecord(nil, 9999, &Blob{ID: [32]byte{1}, Expiry: t0 + 100, Envelope: make([]byte, 500)})
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(torn[:300])
	f.Close()

	r := openStore(t, crashed, opt)
	if after, _ := os.Stat(last); after.Size() != before.Size() {
		t.Fatalf("torn tail not cut: %d bytes, want %d", after.Size(), before.Size())
	}
	for i, b := range bl {
		got, ok, err := r.Get(b.ID)
		if !ok || err != nil || !bytes.Equal(got.Envelope, b.Envelope) || got.Tag != b.Tag {
			t.Fatalf("blob %d after replay: %v, %v", i, ok, err)
		}
	}
	if r.LastSeq() != 300 {
		t.Fatalf("LastSeq = %d, want 300", r.LastSeq())
	}
	checkTotals(t, r)
	// New puts continue the seqs and the log after the cut.
	mustPut(t, r, mkBlob(1000, tagOf(1), t0+100, 700))
	items, _, _, err := r.Fetch([][32]byte{tagOf(1)}, 290, 10, 0)
	if err != nil || len(items) == 0 || items[len(items)-1].Seq != 301 {
		t.Fatalf("Fetch after replay: %v, %v", seqsOf(items), err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := IntegrityCheck(context.Background(), crashed); err != nil {
		t.Fatal(err)
	}
}

// Segments are deleted once empty and compacted once mostly dead, while
// readers keep finding every live blob.
func TestSegmentsReclaimed(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now, SegmentBytes: 16 << 10, MaxBatch: 4})
	var keep []Blob
	n := 160
	if testing.Short() {
		n = 80
	}
	for i := range n {
		// One blob in eight lives long; the rest expire at +50.
		exp := int64(t0 + 50)
		if i%8 == 0 {
			exp = t0 + 500
		}
		b := mkBlob(i, tagOf(byte(i%4+1)), exp, 1000)
		if exp > t0+50 {
			keep = append(keep, b)
		}
		mustPut(t, s, b)
	}
	grown := s.Stats().LogBytes
	segsBefore, _ := listSegments(logDir(path))
	if len(segsBefore) < 5 {
		t.Fatalf("%d segments; the test needs several", len(segsBefore))
	}
	// Readers run through the reclaiming.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var readErr atomic.Value
	// Stop the reader before the store closes, also when the test fails
	// while it runs (cleanups run last in, first out).
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
	wg.Go(func() {
		for i := 0; i < 2000 && !stop.Load(); i++ {
			for _, b := range keep {
				got, ok, err := s.Get(b.ID)
				if err != nil || !ok || !bytes.Equal(got.Envelope, b.Envelope) {
					readErr.Store(errors.New("a live blob was not found while segments were reclaimed"))
					return
				}
			}
		}
	})
	c.set(t0 + 50)
	if _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	// Compaction goes on in steps after the sweep; readers keep reading.
	live := int64(len(keep) * (1000 + recHeader))
	shrunk := func() bool {
		st := s.Stats()
		return st.LogBytes < grown/2 && st.LogBytes <= 3*live+int64(16<<10)
	}
	testutil.Eventually(t, 10*time.Second, "the log to shrink", shrunk)
	stop.Store(true)
	wg.Wait()
	if err, _ := readErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Compactions == 0 {
		t.Fatalf("no segment compacted: %+v", st)
	}
	segsAfter, _ := listSegments(logDir(path))
	if len(segsAfter) >= len(segsBefore) {
		t.Fatalf("segments %v after, %v before", segsAfter, segsBefore)
	}
	items, _, _, err := s.Fetch(nil, 0, 1000, 0)
	if err != nil || len(items) != len(keep) {
		t.Fatalf("Fetch: %d items, %v; want %d", len(items), err, len(keep))
	}
	for i, it := range items {
		if it.ID != keep[i].ID || !bytes.Equal(it.Envelope, keep[i].Envelope) {
			t.Fatalf("item %d differs", i)
		}
	}
	checkTotals(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := IntegrityCheck(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{Now: c.Now})
	if st := s.Stats(); st.Blobs != int64(len(keep)) {
		t.Fatalf("%d blobs after reopen, want %d", st.Blobs, len(keep))
	}
}

// A file written before the blob log (schema version 2, envelopes inline)
// opens, serves its blobs, and takes new ones into the log.
func TestLegacyRowsServed(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(context.Background(), conn, 2, nil); err != nil {
		t.Fatal(err)
	}
	var old []Blob
	for i := range 5 {
		b := mkBlob(i, tagOf(1), t0+100, 300)
		old = append(old, b)
		if _, err := conn.ExecContext(context.Background(), "INSERT INTO blobs (id, tag, expiry, size, env) VALUES (?, ?, ?, ?, ?)",
			b.ID[:], b.Tag[:], b.Expiry, len(b.Envelope), b.Envelope); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	db.Close()

	s := openStore(t, path, Options{Now: c.Now})
	if st := s.Stats(); st.Blobs != 5 || st.Bytes != 1500 || s.LastSeq() != 5 {
		t.Fatalf("Stats %+v, LastSeq %d", st, s.LastSeq())
	}
	nb := mkBlob(10, tagOf(1), t0+100, 400)
	mustPut(t, s, nb)
	if ins := mustPut(t, s, old[2]); ins {
		t.Fatal("a legacy blob was stored twice")
	}
	items, _, _, err := s.Fetch([][32]byte{tagOf(1)}, 0, 100, 0)
	if err != nil || !slices.Equal(seqsOf(items), []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("Fetch: %v, %v", seqsOf(items), err)
	}
	for i, b := range append(old, nb) {
		if !bytes.Equal(items[i].Envelope, b.Envelope) {
			t.Fatalf("item %d: wrong envelope", i)
		}
	}
	checkTotals(t, s)
}

// IntegrityCheck reads the log records the index points at.
func TestIntegrityCheckReadsLog(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now})
	for i := range 20 {
		mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 500))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := IntegrityCheck(context.Background(), path); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	seg := segName(logDir(path), 1)
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A byte in the middle of the tenth record's envelope.
	if _, err := f.WriteAt([]byte{0xff}, int64(len(segMagic))+9*(recHeader+500)+recHeader+250); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = IntegrityCheck(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "1 blobs damaged in the blob log") {
		t.Fatalf("damaged record: %v", err)
	}
	// A served read reports the damage instead of returning wrong bytes.
	s = openStore(t, path, Options{Now: c.Now})
	if _, _, err := s.Get(mkBlob(9, tagOf(1), t0+100, 500).ID); err == nil {
		t.Fatal("Get returned a damaged envelope")
	}
	s.Close()
	os.Remove(seg)
	if err := IntegrityCheck(context.Background(), path); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing segment: %v", err)
	}
}

// A sparse segment is compacted in steps of about compactChunk bytes, each
// committed on its own, with puts served between them; the log still ends
// up holding only the live records.
func TestCompactionInSteps(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		path := dbPath(t)
		s := openStore(t, path, Options{Now: c.Now, SegmentBytes: 64 << 10, compactChunk: 4 << 10})
		var keep []Blob
		for i := range 240 { // ~4 segments of 64 KiB, a third live after the sweep
			exp := int64(t0 + 50)
			if i%3 == 0 {
				exp = t0 + 500
			}
			b := mkBlob(i, tagOf(1), exp, 1000)
			if exp > t0+50 {
				keep = append(keep, b)
			}
			mustPut(t, s, b)
		}
		grown := s.Stats().LogBytes
		c.set(t0 + 50)
		if _, err := s.Sweep(); err != nil {
			t.Fatal(err)
		}
		// Puts are served while the compaction goes on.
		for i := 1000; i < 1010; i++ {
			b := mkBlob(i, tagOf(2), t0+500, 1000)
			keep = append(keep, b)
			mustPut(t, s, b)
		}
		// Polled on the bubble's clock: it moves only while the committer
		// waits out compactPause, so no machine is too slow for the bound.
		testutil.Eventually(t, time.Minute, "the compaction", func() bool { return s.Stats().Compactions >= 2 && s.Stats().LogBytes < grown/2 })
		steps, done := s.compactSteps.Load(), s.Stats().Compactions
		// A segment holds ~21 KiB live: at 4 KiB a step, five or six steps each.
		if steps < 4*done {
			t.Fatalf("%d steps for %d segments compacted, want each in steps of 4 KiB", steps, done)
		}
		for _, b := range keep {
			got, ok, err := s.Get(b.ID)
			if err != nil || !ok || !bytes.Equal(got.Envelope, b.Envelope) {
				t.Fatalf("live blob lost in compaction (%v, %v)", ok, err)
			}
		}
		checkTotals(t, s)
		t.Logf("%d segments compacted in %d steps; log %d -> %d bytes", done, steps, grown, s.Stats().LogBytes)
	})
}

// Compaction that a store had not finished when it closed resumes after
// Open by itself, without waiting for a put.
func TestCompactionResumesAfterOpen(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		path := dbPath(t)
		opt := Options{Now: c.Now, SegmentBytes: 64 << 10, compactChunk: 4 << 10}
		s := openStore(t, path, opt)
		for i := range 240 {
			exp := int64(t0 + 50)
			if i%3 == 0 {
				exp = t0 + 500
			}
			mustPut(t, s, mkBlob(i, tagOf(1), exp, 1000))
		}
		grown := s.Stats().LogBytes
		c.set(t0 + 50)
		if _, err := s.Sweep(); err != nil {
			t.Fatal(err)
		}
		// 20 steps of 4 KiB, compactPause apart, are to come. The bubble's
		// clock does not move between the sweep and Close, so the store closes
		// before the first step however slow the machine.
		if got := s.Stats().LogBytes; got < grown/2 {
			t.Fatalf("log already compacted (%d of %d bytes) before Close: the test cannot see a resume", got, grown)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, path, opt)
		testutil.Eventually(t, time.Minute, "the compaction to resume", func() bool { return s.Stats().LogBytes < grown/2 })
		if n := s.Stats().Blobs; n != 80 {
			t.Fatalf("%d blobs after compaction, want 80", n)
		}
		checkTotals(t, s)
	})
}

// A segment file is deleted only once an fsync of the WAL has made durable
// the index commit that emptied it (index commits themselves do not fsync):
// while that fsync fails the files stay, with a warning, and go at the next
// commit that can sync.
func TestSegmentDeletionWaitsForDurableIndex(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	var failWAL atomic.Bool
	var logs testutil.Buffer
	s := openStore(t, path, Options{
		Now: c.Now, SegmentBytes: 16 << 10, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		fsync: func(f *os.File) error {
			if failWAL.Load() && strings.HasSuffix(f.Name(), "-wal") {
				return &os.PathError{Op: "fsync", Path: f.Name(), Err: syscall.EIO}
			}
			return f.Sync()
		},
	})
	for i := range 80 {
		mustPut(t, s, mkBlob(i, tagOf(1), t0+50, 1000))
	}
	mustPut(t, s, mkBlob(1000, tagOf(1), t0+500, 1000))
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	before, _ := listSegments(logDir(path))
	if len(before) < 4 {
		t.Fatalf("%d segments; the test needs several", len(before))
	}
	failWAL.Store(true)
	c.set(t0 + 50)
	if n, err := s.Sweep(); err != nil || n != 80 {
		t.Fatalf("Sweep: %d, %v; want 80 swept", n, err)
	}
	if kept, _ := listSegments(logDir(path)); !slices.Equal(kept, before) {
		t.Fatalf("segments %v deleted to %v although the WAL fsync failed", before, kept)
	}
	if !strings.Contains(logs.String(), "keeping them") {
		t.Fatalf("no warning about the kept segments:\n%s", logs.String())
	}
	failWAL.Store(false)
	mustPut(t, s, mkBlob(1001, tagOf(1), t0+500, 1000))
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	after, _ := listSegments(logDir(path))
	if len(after) >= len(before)-1 {
		t.Fatalf("segments %v after a good commit (before: %v): the empty ones should be gone", after, before)
	}
	for _, n := range []int{1000, 1001} {
		if ok, err := s.Has(mkBlob(n, tagOf(1), t0+500, 1000).ID); !ok || err != nil {
			t.Fatalf("live blob %d lost (%v)", n, err)
		}
	}
	checkTotals(t, s)
}
