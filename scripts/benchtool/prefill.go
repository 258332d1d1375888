package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/store"
)

// Mailboxes of the prefilled store: 5000 of them, and one target mailbox (tag 0xAA…) that
// receives every rows/targetBlobs-th blob, so its blobs are spread over the whole store.
const targetBlobs = 1000

var targetTag = func() (t [32]byte) {
	for i := range t {
		t[i] = 0xAA
	}
	return t
}()

const (
	prefillInFlight = 8192             // PutAsync calls waiting for their outcome at once
	prefillTimeout  = 30 * time.Minute // bound on the whole prefill
	prefillLogEvery = 200_000
)

// prefill creates the store at path and fills it with rows blobs through package store's own
// API (Open, PutAsync, Close), so the big store has the real layout: envelopes in the blob log
// (<path>-log/), index rows in SQLite, the triggers keeping totals and mailbox counts. It is a
// setup step, not a measurement: limits far above the fill, no group-commit window
// (CommitDelay -1) with large batches, and the index committed only every 1<<17 puts.
func prefill(path string, rows int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	s, err := store.Open(path, store.Options{
		MaxBytes: 1 << 40, MaxMailboxBlobs: 1 << 30, MaxMailboxBytes: 1 << 40,
		CommitDelay: -1, MaxBatch: 4096, FlushBlobs: 1 << 17, FlushEvery: time.Hour,
	})
	if err != nil {
		return err
	}
	every := uint64(max(1, rows/targetBlobs))
	tagFor := func(i uint64) []byte {
		if i%every == 0 {
			return targetTag[:]
		}
		t := make([]byte, 32)
		t[0], t[1], t[2] = byte(i%5000), byte(i%5000>>8), 1
		return t
	}
	ctx, cancel := context.WithTimeout(context.Background(), prefillTimeout)
	defer cancel()
	src := newRowSource()
	sem := make(chan struct{}, prefillInFlight)
	var wg sync.WaitGroup
	var acked, dup atomic.Int64
	var errOnce sync.Once
	var firstErr error
	failed := make(chan struct{})
	submit := func() error {
		for i := 0; i < rows; i++ {
			select {
			case sem <- struct{}{}:
			case <-failed:
				return firstErr
			case <-ctx.Done():
				return fmt.Errorf("%d of %d blobs acknowledged after %s", acked.Load(), rows, prefillTimeout)
			}
			b := store.Blob{Envelope: src.env}
			var tag []byte
			b.ID, tag, b.Expiry = src.next(tagFor)
			copy(b.Tag[:], tag)
			wg.Add(1)
			// The callback runs on the store's committer: only counters and a channel.
			s.PutAsync(b, func(inserted bool, err error) {
				defer wg.Done()
				<-sem
				switch {
				case err != nil:
					errOnce.Do(func() { firstErr = fmt.Errorf("put: %w", err); close(failed) })
				case !inserted:
					dup.Add(1)
				default:
					acked.Add(1)
				}
			})
			if (i+1)%prefillLogEvery == 0 {
				logf("  prefill: %d blobs queued, %d acknowledged", i+1, acked.Load())
			}
		}
		return nil
	}
	err = submit()
	// Every callback runs by Close at the latest (Close commits what is queued); waiting here
	// first lets the Stats check below see them all.
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		err = fmt.Errorf("%d of %d blobs acknowledged after %s", acked.Load(), rows, prefillTimeout)
	}
	if err == nil {
		select {
		case <-failed:
			err = firstErr
		default:
		}
	}
	if err == nil && dup.Load() > 0 {
		err = fmt.Errorf("%d blobs reported as duplicates; every ID is new", dup.Load())
	}
	if err == nil {
		if st := s.Stats(); st.Blobs < int64(rows) {
			err = fmt.Errorf("the store holds %d blobs after %d puts", st.Blobs, rows)
		} else {
			logf("  prefill: %d blobs, %d MiB of log, %d index commits", st.Blobs, st.LogBytes>>20, st.IndexCommits)
		}
	}
	if cerr := s.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return err
}
