package store

import (
	"context"
	"errors"
	"testing"
)

// from is mkBlob with a source.
func from(src byte, n int, tag [32]byte, expiry int64, size int) Blob {
	b := mkBlob(n, tag, expiry, size)
	b.Source = [8]byte{src}
	return b
}

// TestFairShareEviction is the review's attack (issue #15): one source fills a full store
// with long-lived blobs; a message another source put earlier must survive, the filler is
// refused once over its share, and newcomers take room from the largest source, not from the
// small ones.
func TestFairShareEviction(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now, MaxBytes: 1000, MaxUntaggedBytes: 1000})
	const honest, hostile, newcomer = 1, 2, 3
	msg := from(honest, 0, tagOf(1), t0+100, 100) // a tagged message that expires soonest
	mustPut(t, s, msg)
	// The hostile source fills the rest with untagged blobs living far longer.
	for i := range 9 {
		mustPut(t, s, from(hostile, 10+i, [32]byte{}, t0+5000, 100))
	}
	// Full. Before fair shares the soonest-expiring blob (msg) went first; now the filler,
	// holding 900 of 1000 bytes with two sources (share 500), is refused.
	if _, err := s.Put(context.Background(), from(hostile, 20, [32]byte{}, t0+5000, 100)); !errors.Is(err, ErrOverShare) {
		t.Fatalf("over its share: err = %v, want ErrOverShare", err)
	}
	if ok, _ := s.Has(msg.ID); !ok {
		t.Fatal("the honest message was evicted by the filler")
	}
	var re interface{ Reason() string }
	if !errors.As(error(ErrOverShare), &re) || re.Reason() != "store_full" {
		t.Fatal("ErrOverShare's wire reason is not store_full")
	}
	// A newcomer within its share takes room from the largest source: the filler's
	// soonest-expiring blob (all expire together: the first by ID order), never msg.
	mustPut(t, s, from(newcomer, 30, tagOf(2), t0+200, 100))
	// The honest source, within its share, also takes from the filler.
	mustPut(t, s, from(honest, 31, tagOf(1), t0+300, 100))
	if ok, _ := s.Has(msg.ID); !ok {
		t.Fatal("the honest message was evicted for another source's put")
	}
	held := func(src byte) (n int64) {
		s.rdb.QueryRow("SELECT coalesce(sum(size), 0) FROM blobs WHERE src = ?", []byte{src, 0, 0, 0, 0, 0, 0, 0}).Scan(&n)
		return n
	}
	if h, x, nc := held(honest), held(hostile), held(newcomer); h != 200 || x != 700 || nc != 100 {
		t.Fatalf("bytes held: honest %d, hostile %d, newcomer %d; want 200, 700, 100", h, x, nc)
	}
	// Over its share, a source can still renew its own cache: a blob expiring later than some
	// of its own takes their room, and only theirs.
	mustPut(t, s, from(hostile, 40, [32]byte{}, t0+6000, 100))
	if h, x := held(honest), held(hostile); h != 200 || x != 700 {
		t.Fatalf("after the filler renewed: honest %d, hostile %d; want 200 and 700", h, x)
	}
	if st := s.Stats(); st.OverShare != 1 || st.Evicted != 3 || st.Bytes != 1000 {
		t.Fatalf("Stats %+v: want 1 refused over share, 3 evicted, 1000 bytes", st)
	}
	checkTotals(t, s)
	// The counts persist.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{Now: c.Now, MaxBytes: 1000, MaxUntaggedBytes: 1000})
	checkTotals(t, s)
	if _, err := s.Put(context.Background(), from(hostile, 50, [32]byte{}, t0+5000, 100)); !errors.Is(err, ErrOverShare) {
		t.Fatalf("after reopening: err = %v, want ErrOverShare", err)
	}
}

// TestFairShareOneSourceIsARollingCache: a relay fed by one neighbour keeps taking new blobs
// in place of those that expire sooner, as before fair shares, and says ErrFull (not "over
// share") when none expires sooner.
func TestFairShareOneSourceIsARollingCache(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, MaxBytes: 500})
	for i := range 5 {
		mustPut(t, s, from(7, i, tagOf(byte(i+1)), t0+100+int64(i), 100))
	}
	mustPut(t, s, from(7, 10, tagOf(9), t0+1000, 100))
	if ok, _ := s.Has(from(7, 0, tagOf(1), t0+100, 100).ID); ok {
		t.Fatal("the soonest-expiring blob was not evicted")
	}
	if _, err := s.Put(context.Background(), from(7, 11, tagOf(9), t0+50, 100)); !errors.Is(err, ErrFull) {
		t.Fatalf("nothing expires sooner: err = %v, want ErrFull", err)
	}
	checkTotals(t, s)
}

// Untagged blobs share a byte quota, not a mailbox's cap on their number: an Echo bridge or a
// reconciliation carries many small untagged blobs.
func TestUntaggedHaveNoCountCap(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, MaxMailboxBlobs: 5, MaxUntaggedBytes: 1000})
	for i := range 20 {
		mustPut(t, s, mkBlob(i, [32]byte{}, t0+100, 10))
	}
	if _, err := s.Put(context.Background(), mkBlob(100, [32]byte{}, t0+100, 900)); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("untagged bytes beyond their quota: %v, want ErrQuotaExceeded", err)
	}
	checkTotals(t, s)
}
