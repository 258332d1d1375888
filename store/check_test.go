package store

import (
	"context"
	"os"
	"testing"
)

// IntegrityCheck passes a healthy file and reports a damaged one.
func TestIntegrityCheck(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	s := openStore(t, path, Options{Now: c.Now})
	for i := range 200 {
		mustPut(t, s, mkBlob(i, tagOf(byte(i%5+1)), t0+100, 3000))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := IntegrityCheck(context.Background(), path); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	// Scribble over the middle of the file: pages of the blob table and its indexes.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(junk, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := IntegrityCheck(context.Background(), path); err == nil {
		t.Fatal("a damaged store passed the check")
	}
	if err := IntegrityCheck(context.Background(), path+".missing"); err == nil {
		t.Fatal("a missing file passed the check")
	}
}
