package store

import (
	"strings"
	"testing"
)

// RangeCount agrees with RangeIDs on every range, skips expired blobs and uses the index.
func TestRangeCount(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now})
	for i := 0; i < 200; i++ {
		mustPut(t, s, mkBlob(i, [32]byte{}, t0+10+int64(i%20), 16))
	}
	all, err := s.RangeIDs(0, [32]byte{}, 1<<62, [32]byte{}, 0)
	if err != nil || len(all) != 200 {
		t.Fatalf("RangeIDs: %d keys, %v", len(all), err)
	}
	var top [32]byte
	for i := range top {
		top[i] = 0xFF
	}
	for _, r := range [][2]int{{0, 200}, {0, 0}, {5, 6}, {17, 150}, {199, 200}} {
		from, to := all[r[0]], Key{Expiry: 1 << 62, ID: top}
		if r[1] < 200 {
			to = all[r[1]]
		}
		n, err := s.RangeCount(from.Expiry, from.ID, to.Expiry, to.ID)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := s.RangeIDs(from.Expiry, from.ID, to.Expiry, to.ID, 0)
		if n != r[1]-r[0] || n != len(keys) {
			t.Errorf("range %v: count %d, RangeIDs %d", r, n, len(keys))
		}
	}
	// Blobs expiring at t0+10..t0+14 are gone once the clock reaches t0+14.
	c.set(t0 + 14)
	n, err := s.RangeCount(0, [32]byte{}, 1<<62, top)
	if err != nil || n != 150 {
		t.Fatalf("after expiry: %d, %v; want 150", n, err)
	}
	s.Close()
	if _, err := s.RangeCount(0, [32]byte{}, 1, top); err != ErrClosed {
		t.Fatalf("closed store: %v", err)
	}
}

func TestRangeCountPlan(t *testing.T) {
	t.Parallel()
	s := openStore(t, dbPath(t), Options{})
	var zero [32]byte
	rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+rangeCountQuery, 0, zero[:], 0, zero[:])
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "COVERING INDEX blobs_expiry") {
		t.Fatalf("plan %s: want the covering blobs_expiry index", p)
	}
}
