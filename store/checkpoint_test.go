package store

import (
	"context"
	"testing"
	"testing/synctest"
)

// The committer kicks the checkpointer once an index commit has written
// checkpointPages pages. The puts stay in the open index transaction until
// FlushEvery (10 s) commits it: on the bubble's clock that wait is instant.
func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ran := make(chan struct{}, 100)
		s := openStore(t, dbPath(t), Options{
			Now:             newClock().Now,
			checkpointPages: 4,
			onCheckpoint:    func() { ran <- struct{}{} },
		})
		for i := range 10 {
			if _, err := s.Put(context.Background(), mkBlob(i, tagOf(1), t0+100, 4000)); err != nil {
				t.Fatal(err)
			}
		}
		<-ran
		st := s.Stats()
		if st.Checkpoints == 0 || st.PagesWritten < 10 || st.IndexCommits != 1 {
			t.Fatalf("Stats %+v, want a checkpoint after one index commit of at least 10 pages", st)
		}
	})
}
