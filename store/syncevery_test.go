package store

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
)

// By default every acknowledged batch was fsynced: one log sync per commit.
func TestEveryCommitIsFsynced(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, CommitDelay: -1})
	for i := range 20 {
		mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 300))
	}
	if st := s.Stats(); st.LogSyncs != st.Commits || st.Commits != 20 {
		t.Fatalf("%d log syncs for %d commits of 20 lone puts, want one each", st.LogSyncs, st.Commits)
	}
}

// With SyncEvery, puts are acknowledged without an fsync; the log is
// fsynced before the index commits that point into it and at Close, and
// nothing acknowledged is lost across a clean close.
func TestSyncEveryDefersFsync(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now, CommitDelay: -1, SyncEvery: time.Hour, FlushEvery: time.Hour})
	for i := range 20 {
		mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 300))
	}
	st := s.Stats()
	if st.Commits != 20 || st.LogSyncs != 0 {
		t.Fatalf("after 20 lone puts: %d commits, %d log syncs; want 20 and 0", st.Commits, st.LogSyncs)
	}
	if err := s.Sync(); err != nil { // commits the index
		t.Fatal(err)
	}
	if got := s.Stats().LogSyncs; got != 1 {
		t.Fatalf("index commit made %d log syncs, want 1 first", got)
	}
	if err := s.Sync(); err != nil { // nothing new: no second fsync
		t.Fatal(err)
	}
	for i := 20; i < 30; i++ {
		mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 300))
	}
	if got := s.Stats().LogSyncs; got != 1 {
		t.Fatalf("%d log syncs after 10 more puts, want still 1", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{Now: c.Now})
	for i := range 30 {
		if ok, err := s.Has(mkBlob(i, tagOf(1), t0+100, 300).ID); !ok || err != nil {
			t.Fatalf("blob %d lost across Close with SyncEvery (%v)", i, err)
		}
	}
	checkTotals(t, s)
}

// The deferred fsync runs SyncEvery after the first unsynced append without
// any further put, and one covers the puts written meanwhile. The bubble's
// clock stands still while the puts run, so the timer's moment is exact.
func TestSyncEveryTimer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		s := openStore(t, dbPath(t), Options{Now: c.Now, CommitDelay: -1, SyncEvery: time.Second, FlushEvery: time.Hour})
		for i := range 20 {
			mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 300))
		}
		synctest.Wait()
		if st := s.Stats(); st.Commits != 20 || st.LogSyncs != 0 {
			t.Fatalf("after 20 lone puts: %d commits, %d log syncs; want 20 and none yet", st.Commits, st.LogSyncs)
		}
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if got := s.Stats().LogSyncs; got != 0 {
			t.Fatalf("%d log syncs before SyncEvery had passed, want 0", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := s.Stats().LogSyncs; got != 1 {
			t.Fatalf("%d log syncs once SyncEvery had passed, want 1 for all 20 puts", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := s.Stats().LogSyncs; got != 1 {
			t.Fatalf("%d log syncs a minute on with nothing new to sync, want still 1", got)
		}
	})
}

// A segment that fills is fsynced before the log moves to the next one: a
// later fsync covers only the active segment's file.
func TestSyncEveryRotationSyncsOldSegment(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now, CommitDelay: -1, SyncEvery: time.Hour, FlushEvery: time.Hour, SegmentBytes: 4096})
	for i := range 40 { // 40 records of ~400 B: about four segments
		mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 300))
	}
	segs, err := listSegments(logDir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want at least 3", len(segs))
	}
	if got, want := s.Stats().LogSyncs, uint64(len(segs)-1); got != want {
		t.Fatalf("%d log syncs for %d segments, want one per segment left behind (%d)", got, len(segs), want)
	}
}

// A deferred fsync that fails is logged as an error and counted, the next
// one tries again, and an index commit never goes ahead of an unsynced
// log: it fails and is retried, losing nothing.
func TestSyncEveryFsyncFailure(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	var mu sync.Mutex
	fail := 0
	failing := func(f *os.File) error { // fails the next `fail` fsyncs with EIO
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			return &os.PathError{Op: "fsync", Path: f.Name(), Err: syscall.EIO}
		}
		return f.Sync()
	}
	// The deferred fsyncs run on the bubble's clock: each try is exactly
	// SyncEvery after the last.
	synctest.Test(t, func(t *testing.T) {
		var logs testutil.Buffer
		s := openStore(t, path, Options{
			Now: c.Now, CommitDelay: -1, SyncEvery: 20 * time.Millisecond, FlushEvery: time.Hour,
			Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			fsync:  failing,
		})
		mu.Lock()
		fail = 2 // the first deferred fsync and its retry
		mu.Unlock()
		mustPut(t, s, mkBlob(1, tagOf(1), t0+100, 300))
		for try, want := range []struct{ failures, syncs uint64 }{{1, 0}, {2, 0}, {2, 1}} {
			time.Sleep(20 * time.Millisecond)
			synctest.Wait()
			if st := s.Stats(); st.SyncFailures != want.failures || st.LogSyncs != want.syncs {
				t.Fatalf("after deferred fsync %d: %d failures, %d log syncs; want %d and %d",
					try+1, st.SyncFailures, st.LogSyncs, want.failures, want.syncs)
			}
		}
		if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "may be lost on a power cut") {
			t.Fatalf("failed fsync not logged as an error:\n%s", out)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})

	// With no timer in the way (1 h), the index commit is the first to
	// sync blob 2's record, and it must not go ahead of a failed fsync.
	s := openStore(t, path, Options{
		Now: c.Now, CommitDelay: -1, SyncEvery: time.Hour, FlushEvery: time.Hour,
		fsync: failing,
	})
	mustPut(t, s, mkBlob(2, tagOf(1), t0+100, 300))
	mu.Lock()
	fail = 1 // the fsync before the index commit
	mu.Unlock()
	if err := s.Sync(); err == nil || !errors.Is(err, syscall.EIO) {
		t.Fatalf("index commit over an unsynced log: err = %v, want the fsync's EIO", err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("retried index commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{Now: c.Now})
	for _, n := range []int{1, 2} {
		if ok, err := s.Has(mkBlob(n, tagOf(1), t0+100, 300).ID); !ok || err != nil {
			t.Fatalf("blob %d lost (%v)", n, err)
		}
	}
	checkTotals(t, s)
}
