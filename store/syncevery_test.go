package store

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond every 5 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// By default every acknowledged batch was fsynced: one log sync per commit.
func TestEveryCommitIsFsynced(t *testing.T) {
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
// any further put, and one covers the puts written meanwhile.
func TestSyncEveryTimer(t *testing.T) {
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, CommitDelay: -1, SyncEvery: time.Second, FlushEvery: time.Hour})
	for i := range 20 {
		mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 300))
	}
	waitFor(t, "the deferred fsync", func() bool { return s.Stats().LogSyncs >= 1 })
	// 20 puts back to back take far less than the 1 s interval (unless each
	// took a second): one or two fsyncs cover them all.
	if st := s.Stats(); st.Commits != 20 || st.LogSyncs >= st.Commits/2 {
		t.Fatalf("%d log syncs for %d lone puts made within about a second, want one or two", st.LogSyncs, st.Commits)
	}
}

// A segment that fills is fsynced before the log moves to the next one: a
// later fsync covers only the active segment's file.
func TestSyncEveryRotationSyncsOldSegment(t *testing.T) {
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
	c := newClock()
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
	var logs lockedBuffer
	path := dbPath(t)
	s := openStore(t, path, Options{
		Now: c.Now, CommitDelay: -1, SyncEvery: 20 * time.Millisecond, FlushEvery: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		fsync:  failing,
	})
	mu.Lock()
	fail = 2 // the first deferred fsync and its retry
	mu.Unlock()
	mustPut(t, s, mkBlob(1, tagOf(1), t0+100, 300))
	waitFor(t, "two failed fsyncs and a good one", func() bool { return s.Stats().LogSyncs == 1 })
	st := s.Stats()
	if st.SyncFailures != 2 {
		t.Fatalf("%d sync failures counted, want 2", st.SyncFailures)
	}
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "may be lost on a power cut") {
		t.Fatalf("failed fsync not logged as an error:\n%s", out)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// With no timer in the way (1 h), the index commit is the first to
	// sync blob 2's record, and it must not go ahead of a failed fsync.
	s = openStore(t, path, Options{
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

// lockedBuffer is a bytes.Buffer safe for the committer's logging.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
