package store

import "context"

// Put stores b unless a blob with the same ID is already present
// (inserted false, err nil). It returns only after the blob's record is
// in the blob log and fsynced (unless Options.SyncEvery defers the fsync),
// so an acknowledged blob survives a crash or power cut. Refusals are ErrExpired, ErrQuotaExceeded
// and ErrFull. If ctx ends first Put returns ctx.Err(), but a blob already
// queued may still be committed. b.Envelope must not be modified until Put
// returns.
func (s *Store) Put(ctx context.Context, b Blob) (bool, error) {
	ch := make(chan result, 1)
	err := s.enqueue(ctx, &request{blob: b, done: func(inserted bool, err error) {
		ch <- result{inserted, err}
	}})
	if err != nil {
		return false, err
	}
	select {
	case r := <-ch:
		return r.inserted, r.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// PutAsync is Put without waiting: done runs once the outcome is durable,
// on the committer goroutine, so it must return quickly and must not call
// Put, PutAsync, Sweep or Close. PutAsync blocks only while the queue
// (queueDepth puts) is full. On a closed Store done runs at once with
// ErrClosed, on the caller's goroutine. b.Envelope must not be modified
// until done runs.
func (s *Store) PutAsync(b Blob, done func(inserted bool, err error)) {
	if done == nil {
		done = func(bool, error) {}
	}
	if err := s.enqueue(context.Background(), &request{blob: b, done: done}); err != nil {
		done(false, err)
	}
}

func (s *Store) enqueue(ctx context.Context, r *request) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	// Close waits for mu, so the committer keeps draining reqs while we
	// block here.
	select {
	case s.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
