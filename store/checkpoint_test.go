package store

import (
	"context"
	"testing"
)

func TestBackgroundCheckpoint(t *testing.T) {
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
	if st.Checkpoints == 0 || st.PagesWritten < 10 {
		t.Fatalf("Stats %+v", st)
	}
}
