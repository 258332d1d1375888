package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
)

// Puts from concurrent callers share commits. In the bubble the commit
// window (CommitDelay) ends only once every caller waits for its ack, so
// each commit takes exactly one put from each of the 16 workers.
func TestGroupCommitConcurrentPuts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newClock()
		path := dbPath(t)
		s := openStore(t, path, Options{Now: c.Now})
		const workers, each = 16, 50
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					n := w*each + i
					ins, err := s.Put(context.Background(), mkBlob(n, tagOf(byte(w+1)), t0+100, 1024))
					if err != nil || !ins {
						t.Errorf("Put %d: %v, %v", n, ins, err)
					}
				}
			})
		}
		wg.Wait()
		st := s.Stats()
		if st.Blobs != workers*each {
			t.Fatalf("Blobs = %d", st.Blobs)
		}
		if st.Commits != each {
			t.Errorf("%d commits for %d puts from %d callers, want %d", st.Commits, workers*each, workers, each)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, path, Options{Now: c.Now})
		for n := range workers * each {
			if ok, err := s.Has(mkBlob(n, [32]byte{}, 0, 1024).ID); !ok || err != nil {
				t.Fatalf("blob %d missing after reopen: %v", n, err)
			}
		}
		if s.LastSeq() != workers*each {
			t.Fatalf("LastSeq = %d", s.LastSeq())
		}
		checkTotals(t, s)
	})
}

// TestCloseWithPutsInFlight closes while puts are queued and arriving:
// every put completes exactly once, as committed or ErrClosed, and the
// committed ones are in the file.
func TestCloseWithPutsInFlight(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now, MaxBatch: 64})
	const n = 3000
	var (
		mu       sync.Mutex
		calls    = make([]int, n)
		acked    []int
		closedN  int
		wg       sync.WaitGroup
		firstAck = make(chan struct{})
		once     sync.Once
	)
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				wg.Add(1)
				s.PutAsync(mkBlob(i, tagOf(byte(g+1)), t0+100, 256), func(ins bool, err error) {
					defer wg.Done()
					mu.Lock()
					defer mu.Unlock()
					calls[i]++
					switch {
					case err == nil && ins:
						acked = append(acked, i)
						once.Do(func() { close(firstAck) })
					case errors.Is(err, ErrClosed):
						closedN++
					default:
						t.Errorf("put %d: %v, %v", i, ins, err)
					}
				})
			}
		})
	}
	<-firstAck
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, k := range calls {
		if k != 1 {
			t.Fatalf("put %d completed %d times", i, k)
		}
	}
	t.Logf("%d committed, %d refused with ErrClosed", len(acked), closedN)
	s = openStore(t, path, Options{Now: c.Now})
	if got := s.Stats().Blobs; got != int64(len(acked)) {
		t.Fatalf("%d blobs after reopen, %d acknowledged", got, len(acked))
	}
	for _, i := range acked {
		if ok, _ := s.Has(mkBlob(i, [32]byte{}, 0, 256).ID); !ok {
			t.Fatalf("acknowledged put %d missing", i)
		}
	}
	if _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
}

func TestClosedStore(t *testing.T) {
	t.Parallel()
	s, err := Open(dbPath(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var id [32]byte
	if _, err := s.Has(id); !errors.Is(err, ErrClosed) {
		t.Errorf("Has: %v", err)
	}
	if _, _, err := s.Get(id); !errors.Is(err, ErrClosed) {
		t.Errorf("Get: %v", err)
	}
	if _, _, _, err := s.Fetch(nil, 0, 1, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Fetch: %v", err)
	}
	if _, err := s.RangeIDs(0, id, 1, id, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("RangeIDs: %v", err)
	}
	if _, err := s.Sweep(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sweep: %v", err)
	}
	done := make(chan error, 1)
	s.PutAsync(Blob{Expiry: 1 << 40}, func(_ bool, err error) { done <- err })
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("PutAsync: %v", err)
	}
}
