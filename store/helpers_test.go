package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is the tests' clock origin; blobs expire relative to it.
const t0 = 1_800_000_000

// clock is a settable Options.Now.
type clock struct{ sec atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.sec.Store(t0)
	return c
}

func (c *clock) Now() time.Time  { return time.Unix(c.sec.Load(), 0) }
func (c *clock) set(sec int64)   { c.sec.Store(sec) }
func (c *clock) advance(d int64) { c.sec.Add(d) }
func tagOf(b byte) (t [32]byte)  { t[0], t[31] = b, b; return t }
func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "sub", "blobs.db") }

// mkBlob makes a distinct blob numbered n with an envelope of size bytes.
func mkBlob(n int, tag [32]byte, expiry int64, size int) Blob {
	env := make([]byte, size)
	if size >= 8 {
		binary.BigEndian.PutUint64(env, uint64(n))
	} else if size > 0 {
		env[0] = byte(n)
	}
	var seed [16]byte
	binary.BigEndian.PutUint64(seed[:], uint64(n))
	id := sha256.Sum256(append(seed[:], env...))
	return Blob{ID: id, Tag: tag, Expiry: expiry, Envelope: env}
}

func openStore(t testing.TB, path string, opt Options) *Store {
	t.Helper()
	s, err := Open(path, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPut(t testing.TB, s *Store, b Blob) bool {
	t.Helper()
	ins, err := s.Put(context.Background(), b)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return ins
}

func seqsOf(items []Item) []uint64 {
	var out []uint64
	for _, it := range items {
		out = append(out, it.Seq)
	}
	return out
}
