package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestPutGetDuplicate(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now})
	b := mkBlob(1, tagOf(1), t0+100, 1000)
	if !mustPut(t, s, b) {
		t.Fatal("first Put: inserted = false")
	}
	if mustPut(t, s, b) {
		t.Fatal("second Put: inserted = true")
	}
	got, ok, err := s.Get(b.ID)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if got.ID != b.ID || got.Tag != b.Tag || got.Expiry != b.Expiry || !bytes.Equal(got.Envelope, b.Envelope) {
		t.Fatalf("Get returned a different blob")
	}
	if ok, _ := s.Has(b.ID); !ok {
		t.Fatal("Has = false")
	}
	if ok, _ := s.Has(mkBlob(2, tagOf(1), t0+100, 10).ID); ok {
		t.Fatal("Has(absent) = true")
	}
	if _, ok, _ := s.Get(mkBlob(2, tagOf(1), t0+100, 10).ID); ok {
		t.Fatal("Get(absent) = true")
	}
	// An untagged blob comes back with the zero tag.
	u := mkBlob(3, [32]byte{}, t0+100, 0)
	mustPut(t, s, u)
	if got, ok, _ := s.Get(u.ID); !ok || got.Tag != ([32]byte{}) || len(got.Envelope) != 0 {
		t.Fatalf("Get(untagged) = %+v, %v", got, ok)
	}
	st := s.Stats()
	if st.Blobs != 2 || st.Bytes != 1000 || s.LastSeq() != 2 {
		t.Fatalf("Stats = %+v, LastSeq = %d", st, s.LastSeq())
	}
}

func TestDuplicateWithinBatch(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now, CommitDelay: time.Hour, MaxBatch: 20})
	b := mkBlob(1, tagOf(1), t0+100, 10)
	results := make(chan bool, 20)
	// Queue everything before the committer can end a batch: the commit
	// window is long, MaxBatch cuts it.
	for range 20 {
		s.PutAsync(b, func(ins bool, err error) {
			if err != nil {
				t.Error(err)
			}
			results <- ins
		})
	}
	n := 0
	for range 20 {
		if <-results {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of 20 identical puts inserted, want 1", n)
	}
	if st := s.Stats(); st.Commits != 1 || st.Blobs != 1 {
		t.Fatalf("Stats %+v, want the 20 puts in one commit of 1 blob", st)
	}
}

func TestPutExpired(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now})
	for _, exp := range []int64{t0, t0 - 1, 0} {
		if _, err := s.Put(context.Background(), mkBlob(1, tagOf(1), exp, 10)); !errors.Is(err, ErrExpired) {
			t.Fatalf("Put(expiry %d) err = %v, want ErrExpired", exp, err)
		}
	}
}

func TestFetchPaging(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now})
	a, b, x := tagOf(1), tagOf(2), tagOf(3)
	var want = map[[32]byte][]uint64{}
	for i := range 30 {
		tag := []([32]byte){a, b, x}[i%3]
		mustPut(t, s, mkBlob(i, tag, t0+100, 100))
		want[tag] = append(want[tag], uint64(i+1))
	}
	mustPut(t, s, mkBlob(99, [32]byte{}, t0+100, 100)) // untagged, seq 31

	page := func(tags [][32]byte, limit, maxBytes int) []uint64 {
		var all []uint64
		after := uint64(0)
		for i := 0; ; i++ {
			items, next, more, err := s.Fetch(tags, after, limit, maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if limit > 0 && len(items) > limit {
				t.Fatalf("%d items > limit %d", len(items), limit)
			}
			total := 0
			for _, it := range items {
				total += len(it.Envelope)
				if len(tags) > 0 && !slices.Contains(tags, it.Tag) {
					t.Fatalf("item with foreign tag")
				}
			}
			if maxBytes > 0 && len(items) > 1 && total > maxBytes {
				t.Fatalf("%d bytes > maxBytes %d", total, maxBytes)
			}
			all = append(all, seqsOf(items)...)
			if len(items) > 0 && next != items[len(items)-1].Seq || len(items) == 0 && next != after {
				t.Fatalf("next = %d", next)
			}
			after = next
			if !more {
				return all
			}
			if i > 100 {
				t.Fatal("paging does not end")
			}
		}
	}
	if got := page([][32]byte{a}, 3, 0); !slices.Equal(got, want[a]) {
		t.Fatalf("tag a: %v, want %v", got, want[a])
	}
	ab := slices.Sorted(slices.Values(append(slices.Clone(want[a]), want[b]...)))
	if got := page([][32]byte{b, a, a}, 4, 0); !slices.Equal(got, ab) {
		t.Fatalf("tags a,b: %v, want %v", got, ab)
	}
	if got := page([][32]byte{a, b}, 100, 250); !slices.Equal(got, ab) {
		t.Fatalf("tags a,b by bytes: %v, want %v", got, ab)
	}
	var every []uint64
	for i := range 31 {
		every = append(every, uint64(i+1))
	}
	if got := page(nil, 7, 0); !slices.Equal(got, every) {
		t.Fatalf("all: %v", got)
	}
	if got := page(nil, 0, 350); !slices.Equal(got, every) {
		t.Fatalf("all by bytes: %v", got)
	}
	// A single blob larger than maxBytes is still returned, alone.
	items, _, more, _ := s.Fetch([][32]byte{a}, 0, 10, 50)
	if len(items) != 1 || !more {
		t.Fatalf("oversized: %d items, more %v", len(items), more)
	}
	// The zero tag matches nothing; it does not mean "all".
	if items, _, _, _ := s.Fetch([][32]byte{{}}, 0, 10, 0); len(items) != 0 {
		t.Fatalf("zero tag returned %d items", len(items))
	}
	// A limit reached exactly: more must be false when nothing follows.
	if items, _, more, _ := s.Fetch([][32]byte{a}, want[a][6], 3, 0); len(items) != 3 || more {
		t.Fatalf("tail: %d items, more %v", len(items), more)
	}
}

func TestRestartKeepsDataAndSeq(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustPut(t, s, mkBlob(i, tagOf(1), t0+100, 50))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Put(context.Background(), mkBlob(9, tagOf(1), t0+100, 50)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}

	s = openStore(t, path, Options{Now: c.Now})
	if st := s.Stats(); st.Blobs != 5 || st.Bytes != 250 || s.LastSeq() != 5 {
		t.Fatalf("after reopen: %+v, LastSeq %d", st, s.LastSeq())
	}
	if mustPut(t, s, mkBlob(0, tagOf(1), t0+100, 50)) {
		t.Fatal("duplicate accepted after reopen")
	}
	mustPut(t, s, mkBlob(5, tagOf(1), t0+100, 50))
	items, _, _, err := s.Fetch([][32]byte{tagOf(1)}, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(items); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("seqs %v", got)
	}
}
