package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeOldFile creates a file at schema version v holding rows, written
// as that version's program would have.
func writeOldFile(t *testing.T, path string, v int, rows []Blob) {
	t.Helper()
	if err := openAndRun(path, func(conn *sql.Conn) error {
		if err := migrate(context.Background(), conn, v); err != nil {
			return err
		}
		for _, b := range rows {
			var tag any
			if b.Tag != ([32]byte{}) {
				tag = b.Tag[:]
			}
			if _, err := conn.ExecContext(context.Background(),
				"INSERT INTO blobs (id, tag, expiry, size, env) VALUES (?, ?, ?, ?, ?)",
				b.ID[:], tag, b.Expiry, len(b.Envelope), b.Envelope); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func openAndRun(path string, f func(*sql.Conn) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn)
}

func TestMigrateFromVersion1(t *testing.T) {
	c := newClock()
	path := dbPath(t)
	var rows []Blob
	for i := range 10 {
		tag := tagOf(byte(i%3 + 1))
		if i%4 == 0 {
			tag = [32]byte{}
		}
		rows = append(rows, mkBlob(i, tag, t0+100, 10*i))
	}
	writeOldFile(t, path, 1, rows)

	s := openStore(t, path, Options{Now: c.Now})
	var v int
	s.rdb.QueryRow("PRAGMA user_version").Scan(&v)
	if v != len(migrations) {
		t.Fatalf("user_version = %d after Open, want %d", v, len(migrations))
	}
	checkTotals(t, s)
	if st := s.Stats(); st.Blobs != 10 || st.Bytes != 450 || s.LastSeq() != 10 {
		t.Fatalf("Stats %+v LastSeq %d", st, s.LastSeq())
	}
	mustPut(t, s, mkBlob(100, tagOf(1), t0+100, 5))
	items, _, _, err := s.Fetch([][32]byte{tagOf(1)}, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(items); !slices.Equal(got, []uint64{4, 7, 10, 11}) {
		t.Fatalf("mailbox after migration: %v", got)
	}
	checkTotals(t, s)
}

func TestSchemaTooNew(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := openAndRun(path, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(context.Background(), "PRAGMA user_version = 99")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open: %v, want ErrSchemaTooNew", err)
	}
}

func TestRangeIDs(t *testing.T) {
	c := newClock()
	s := openStore(t, dbPath(t), Options{Now: c.Now})
	var keys []Key
	for i := range 40 {
		b := mkBlob(i, tagOf(byte(i%2+1)), t0+int64(1+i%5), 10)
		mustPut(t, s, b)
		keys = append(keys, Key{b.Expiry, b.ID})
	}
	cmpKey := func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Expiry, b.Expiry), bytes.Compare(a.ID[:], b.ID[:]))
	}
	slices.SortFunc(keys, cmpKey)
	var max [32]byte
	for i := range max {
		max[i] = 0xff
	}
	all, err := s.RangeIDs(0, [32]byte{}, 1<<62, max, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all, keys) {
		t.Fatalf("RangeIDs(all) not in (expiry, id) order")
	}
	// Half-open: [keys[5], keys[20]) and a limit.
	got, _ := s.RangeIDs(keys[5].Expiry, keys[5].ID, keys[20].Expiry, keys[20].ID, 0)
	if !slices.Equal(got, keys[5:20]) {
		t.Fatalf("RangeIDs[5:20] = %d keys", len(got))
	}
	got, _ = s.RangeIDs(keys[5].Expiry, keys[5].ID, keys[20].Expiry, keys[20].ID, 4)
	if !slices.Equal(got, keys[5:9]) {
		t.Fatalf("RangeIDs limit 4 = %v", got)
	}
	// Expired keys disappear before the sweep.
	c.set(t0 + 2)
	got, _ = s.RangeIDs(0, [32]byte{}, 1<<62, max, 0)
	want := slices.DeleteFunc(slices.Clone(keys), func(k Key) bool { return k.Expiry <= t0+2 })
	if !slices.Equal(got, want) {
		t.Fatalf("after expiry: %d keys, want %d", len(got), len(want))
	}
}
