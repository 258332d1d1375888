package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSweepAndExpiry(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now})
	tag := tagOf(1)
	short := mkBlob(1, tag, t0+10, 100)
	long := mkBlob(2, tag, t0+20, 100)
	mustPut(t, s, short)
	mustPut(t, s, long)

	c.set(t0 + 10) // short has expired but is not swept yet
	if _, ok, _ := s.Get(short.ID); ok {
		t.Fatal("Get served an expired blob")
	}
	if ok, _ := s.Has(short.ID); !ok {
		t.Fatal("Has forgot an expired, unswept blob")
	}
	for _, tags := range [][][32]byte{nil, {tag}} {
		items, _, _, err := s.Fetch(tags, 0, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := seqsOf(items); !slices.Equal(got, []uint64{2}) {
			t.Fatalf("Fetch(%d tags) served %v, want [2]", len(tags), got)
		}
	}
	if keys, _ := s.RangeIDs(0, [32]byte{}, t0+1000, [32]byte{}, 0); len(keys) != 1 || keys[0].ID != long.ID {
		t.Fatalf("RangeIDs = %v", keys)
	}
	if st := s.Stats(); st.Blobs != 2 {
		t.Fatalf("Blobs = %d before sweep", st.Blobs)
	}

	n, err := s.Sweep()
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	if ok, _ := s.Has(short.ID); ok {
		t.Fatal("Has after sweep")
	}
	if st := s.Stats(); st.Blobs != 1 || st.Bytes != 100 || st.Swept != 1 {
		t.Fatalf("Stats after sweep: %+v", st)
	}
	s.Close()

	// Open sweeps too.
	c.set(t0 + 20)
	s = openStore(t, path, Options{Now: c.Now})
	if st := s.Stats(); st.Blobs != 0 || st.Bytes != 0 || st.Swept != 1 {
		t.Fatalf("Stats after reopen: %+v", st)
	}
}

func TestSweepLarge(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, MaxBatch: 1000})
	const n = sweepChunk*2 + 7
	errs := make(chan error, n)
	for i := range n {
		s.PutAsync(mkBlob(i, tagOf(byte(i%5+1)), t0+10+int64(i%2), 10), func(_ bool, err error) { errs <- err })
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c.set(t0 + 10)
	if got, err := s.Sweep(); err != nil || got != (n+1)/2 {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, (n+1)/2)
	}
	c.set(t0 + 11)
	if got, err := s.Sweep(); err != nil || got != n/2 {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, n/2)
	}
	checkTotals(t, s)
}

// checkTotals compares the trigger-kept totals with a full count.
func checkTotals(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	var blobs, bytes int64
	if err := s.rdb.QueryRow("SELECT count(*), coalesce(sum(size), 0) FROM blobs").Scan(&blobs, &bytes); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Blobs != blobs || st.Bytes != bytes {
		t.Fatalf("Stats %d blobs %d bytes, table %d blobs %d bytes", st.Blobs, st.Bytes, blobs, bytes)
	}
	var bad int
	// Untagged blobs count under the zero tag (migration 5).
	err := s.rdb.QueryRow(`SELECT count(*) FROM (
		SELECT coalesce(tag, zeroblob(32)) AS tag, count(*) n, sum(size) b FROM blobs GROUP BY 1) AS real
		FULL JOIN mailbox m USING (tag)
		WHERE real.n IS NOT m.blobs OR real.b IS NOT m.bytes`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d mailbox rows disagree with blobs", bad)
	}
	err = s.rdb.QueryRow(`SELECT count(*) FROM (
		SELECT src, count(*) n, sum(size) b FROM blobs GROUP BY src) AS real
		FULL JOIN sources m USING (src)
		WHERE real.n IS NOT m.blobs OR real.b IS NOT m.bytes`).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d sources rows disagree with blobs", bad)
	}
}

func TestGlobalCapEviction(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, MaxBytes: 1000})
	// Five 200-byte blobs fill the store; expiries out of insertion order.
	exps := []int64{50, 30, 40, 10, 20}
	var bl []Blob
	for i, e := range exps {
		b := mkBlob(i, [32]byte{}, t0+e, 200)
		bl = append(bl, b)
		mustPut(t, s, b)
	}
	// 300 bytes expiring at +35 must evict the two soonest (+10, +20).
	mustPut(t, s, mkBlob(10, tagOf(1), t0+35, 300))
	for i, want := range []bool{true, true, true, false, false} {
		if ok, _ := s.Has(bl[i].ID); ok != want {
			t.Fatalf("blob expiring at +%d present = %v, want %v", exps[i], ok, want)
		}
	}
	if st := s.Stats(); st.Evicted != 2 || st.Bytes != 900 {
		t.Fatalf("Stats %+v", st)
	}
	// 300 bytes expiring at +30: only blobs expiring before +30 may go,
	// and there are none. Nothing is evicted.
	if _, err := s.Put(context.Background(), mkBlob(11, [32]byte{}, t0+30, 300)); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	if st := s.Stats(); st.Evicted != 2 || st.Blobs != 4 || st.Full != 1 {
		t.Fatalf("Stats %+v", st)
	}
	// Bigger than the whole store.
	if _, err := s.Put(context.Background(), mkBlob(12, [32]byte{}, t0+1000, 1001)); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	var re interface{ Reason() string }
	if !errors.As(error(ErrFull), &re) || re.Reason() != "store_full" {
		t.Fatal("ErrFull has no Reason store_full")
	}
	checkTotals(t, s)
}

func TestMailboxQuota(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, MaxMailboxBlobs: 3, MaxMailboxBytes: 1000})
	a, b := tagOf(1), tagOf(2)
	for i := range 3 {
		mustPut(t, s, mkBlob(i, a, t0+100, 10))
	}
	if _, err := s.Put(context.Background(), mkBlob(3, a, t0+100, 10)); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("4th blob: err = %v, want ErrQuotaExceeded", err)
	}
	// A duplicate of a stored blob is not a quota violation.
	if ins, err := s.Put(context.Background(), mkBlob(0, a, t0+100, 10)); ins || err != nil {
		t.Fatalf("duplicate in full mailbox: %v, %v", ins, err)
	}
	// Bytes: 600 + 400 fits exactly, one more byte does not.
	mustPut(t, s, mkBlob(10, b, t0+100, 600))
	if _, err := s.Put(context.Background(), mkBlob(11, b, t0+100, 401)); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("bytes: err = %v, want ErrQuotaExceeded", err)
	}
	mustPut(t, s, mkBlob(12, b, t0+100, 400))
	// Untagged blobs share one quota like a mailbox's (MaxUntaggedBytes, default
	// MaxMailboxBytes): three of 300 bytes fit, the fourth does not.
	for i := range 3 {
		mustPut(t, s, mkBlob(20+i, [32]byte{}, t0+100, 300))
	}
	if _, err := s.Put(context.Background(), mkBlob(23, [32]byte{}, t0+100, 300)); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("untagged beyond their quota: err = %v, want ErrQuotaExceeded", err)
	}
	// Sweeping frees the quota.
	c.set(t0 + 100)
	if _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, mkBlob(3, a, t0+200, 10))
	var re interface{ Reason() string }
	if !errors.As(error(ErrQuotaExceeded), &re) || re.Reason() != "quota_exceeded" {
		t.Fatal("ErrQuotaExceeded has no Reason quota_exceeded")
	}
	if st := s.Stats(); st.QuotaExceeded != 3 {
		t.Fatalf("Stats %+v", st)
	}
	checkTotals(t, s)
}

func TestDiskFull(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now, MaxPageCount: 64, MaxLogBytes: 256 << 10}) // 256 KiB file, 256 KiB log
	var stored []Blob
	var full bool
	// Batches of 8 x 4 KiB: some puts in a batch fail, the others commit.
	for round := 0; round < 40 && !full; round++ {
		type res struct {
			b   Blob
			ins bool
			err error
		}
		ch := make(chan res, 8)
		for i := range 8 {
			b := mkBlob(round*8+i, tagOf(byte(i%3+1)), t0+100, 4096)
			s.PutAsync(b, func(ins bool, err error) { ch <- res{b, ins, err} })
		}
		for range 8 {
			r := <-ch
			switch {
			case r.err == nil && r.ins:
				stored = append(stored, r.b)
			case errors.Is(r.err, ErrFull):
				full = true
			default:
				t.Fatalf("Put: %v, %v", r.ins, r.err)
			}
		}
	}
	if !full {
		t.Fatal("the blob log never filled up")
	}
	if s.Stats().Full == 0 {
		t.Fatal("Stats.Full = 0")
	}
	checkTotals(t, s)
	// Everything acknowledged is there; small blobs still fit in
	// partially filled pages or not, but the store keeps answering.
	for _, b := range stored {
		if _, ok, err := s.Get(b.ID); !ok || err != nil {
			t.Fatalf("acknowledged blob lost: %v", err)
		}
	}
	// Free space by expiry, then writes work again.
	c.set(t0 + 100)
	if _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustPut(t, s, mkBlob(1000+i, tagOf(1), t0+200, 4096))
	}
	var ic string
	if err := s.rdb.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("integrity_check = %q, %v", ic, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// And the file reopens cleanly with the blobs that were acknowledged.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("integrity_check after close = %q, %v", ic, err)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM blobs").Scan(&n)
	if n != 5 {
		t.Fatalf("%d blobs after reopen, want 5", n)
	}
}

// TestFullFailsOnlyItsPut checks that within one batch the puts that fit
// commit and only the others get ErrFull.
func TestFullFailsOnlyItsPut(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, MaxBytes: 1000, CommitDelay: time.Hour, MaxBatch: 5})
	type res struct {
		ins bool
		err error
	}
	ch := make([]chan res, 5)
	for i := range ch {
		ch[i] = make(chan res, 1)
		// Same expiry: nothing may be evicted for a later put.
		s.PutAsync(mkBlob(i, [32]byte{}, t0+100, 300), func(ins bool, err error) { ch[i] <- res{ins, err} })
	}
	for i := range ch {
		r := <-ch[i]
		if i < 3 && (!r.ins || r.err != nil) || i >= 3 && !errors.Is(r.err, ErrFull) {
			t.Errorf("put %d: %v, %v", i, r.ins, r.err)
		}
	}
	if st := s.Stats(); st.Commits != 1 || st.Blobs != 3 {
		t.Fatalf("Stats %+v, want one commit of 3 blobs", st)
	}
}
