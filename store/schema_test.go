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
	"strings"
	"testing"
)

// writeOldFile creates a file at schema version v holding rows, written
// as that version's program would have.
func writeOldFile(t *testing.T, path string, v int, rows []Blob) {
	t.Helper()
	if err := openAndRun(path, func(conn *sql.Conn) error {
		if err := migrate(context.Background(), conn, v, nil); err != nil {
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
		if v >= 3 {
			return countInserts(conn)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// countInserts sets totals and mailbox from the rows of a file that held none before, as
// the committer does for what it inserts from version 3 on (inserts fire no triggers).
func countInserts(conn *sql.Conn) error {
	_, err := conn.ExecContext(context.Background(), `
		UPDATE totals SET blobs = (SELECT count(*) FROM blobs), bytes = (SELECT coalesce(sum(size), 0) FROM blobs);
		INSERT INTO mailbox SELECT tag, count(*), sum(size) FROM blobs WHERE tag IS NOT NULL GROUP BY tag`)
	return err
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// Version 4 rebuilds the blobs table without the whole-ID unique index. A
// version-3 file keeps its rows, its counts and its highest seq, also when
// the blob holding that seq was deleted, and gets exactly the new indexes.
func TestMigrateToVersion4(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	var rows []Blob
	for i := range 8 {
		tag := tagOf(byte(i%2 + 1))
		if i == 5 {
			tag = [32]byte{}
		}
		rows = append(rows, mkBlob(i, tag, t0+100+int64(i), 100+i))
	}
	writeOldFile(t, path, 3, rows)
	if err := openAndRun(path, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(context.Background(), "DELETE FROM blobs WHERE seq = 8")
		return err
	}); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, path, Options{Now: c.Now})
	var v int
	s.rdb.QueryRow("PRAGMA user_version").Scan(&v)
	if v != len(migrations) || s.LastSeq() != 8 {
		t.Fatalf("user_version %d, LastSeq %d: want %d and 8 (the deleted blob's seq)", v, s.LastSeq(), len(migrations))
	}
	idx, err := s.rdb.Query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'blobs' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for idx.Next() {
		var name string
		var ddl sql.NullString
		if err := idx.Scan(&name, &ddl); err != nil {
			t.Fatal(err)
		}
		if name == "blobs_expiry" && !bytes.Contains([]byte(ddl.String), []byte("UNIQUE")) {
			t.Errorf("blobs_expiry is not unique: %s", ddl.String)
		}
		got = append(got, name)
	}
	idx.Close()
	if want := []string{"blobs_expiry", "blobs_gen_id", "blobs_seg", "blobs_src", "blobs_tag"}; !slices.Equal(got, want) {
		t.Fatalf("indexes %v, want %v", got, want)
	}
	checkTotals(t, s)
	if st := s.Stats(); st.Blobs != 7 {
		t.Fatalf("Stats %+v, want 7 blobs", st)
	}
	for i, b := range rows[:7] {
		got, ok, err := s.Get(b.ID)
		if err != nil || !ok || !bytes.Equal(got.Envelope, b.Envelope) || got.Tag != b.Tag || got.Expiry != b.Expiry {
			t.Fatalf("row %d after migration: %v %v", i, ok, err)
		}
		if ins := mustPut(t, s, b); ins {
			t.Fatalf("row %d stored twice", i)
		}
	}
	if has, err := s.Has(rows[7].ID); err != nil || has {
		t.Fatalf("the deleted blob is back: %v %v", has, err)
	}
	mustPut(t, s, mkBlob(50, tagOf(1), t0+100, 10))
	items, _, _, err := s.Fetch([][32]byte{tagOf(1)}, 0, 100, 0)
	if err != nil || !slices.Equal(seqsOf(items), []uint64{1, 3, 5, 7, 9}) {
		t.Fatalf("mailbox after migration: %v, %v (the new blob must get seq 9)", seqsOf(items), err)
	}
	// The delete triggers came back with the table.
	c.advance(200)
	if n, err := s.Sweep(); err != nil || n != 8 {
		t.Fatalf("Sweep removed %d, %v; want 8", n, err)
	}
	checkTotals(t, s)
	if st := s.Stats(); st.Blobs != 0 || st.Bytes != 0 {
		t.Fatalf("Stats after sweep %+v", st)
	}
}

// Has and Get find a blob by ID alone in every generation of seqs that
// blobs_gen_id is keyed by, including the first and last, and nothing
// for an ID that is not stored.
func TestLookupByIDAcrossGenerations(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	seqs := []int64{3, 65535, 65536, 131077, 1 << 20, 1<<20 + 1, 1 << 40}
	var rows []Blob
	if err := openAndRun(path, func(conn *sql.Conn) error {
		ctx := context.Background()
		if err := migrate(ctx, conn, len(migrations), nil); err != nil {
			return err
		}
		for i, seq := range seqs {
			b := mkBlob(i, tagOf(1), t0+100, 64)
			rows = append(rows, b)
			if _, err := conn.ExecContext(ctx, "INSERT INTO blobs (seq, id, tag, expiry, size, env) VALUES (?, ?, ?, ?, ?, ?)",
				seq, b.ID[:], b.Tag[:], b.Expiry, len(b.Envelope), b.Envelope); err != nil {
				return err
			}
		}
		return countInserts(conn)
	}); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path, Options{Now: c.Now})
	lookAll := func(from int) {
		t.Helper()
		for i := from; i < len(rows); i++ {
			has, err := s.Has(rows[i].ID)
			got, ok, gerr := s.Get(rows[i].ID)
			if err != nil || gerr != nil || !has || !ok || !bytes.Equal(got.Envelope, rows[i].Envelope) {
				t.Fatalf("seq %d: Has %v %v, Get %v %v", seqs[i], has, err, ok, gerr)
			}
		}
		absent := mkBlob(99, tagOf(1), t0+100, 64)
		if has, err := s.Has(absent.ID); err != nil || has {
			t.Fatalf("Has of an absent ID: %v %v", has, err)
		}
		if _, ok, err := s.Get(absent.ID); err != nil || ok {
			t.Fatalf("Get of an absent ID: %v %v", ok, err)
		}
	}
	lookAll(0)
	// Only generations that hold a row are probed, however far apart:
	// 0, 1, 2, 16 and 1<<24, and the NULL that ends the list.
	var probed int
	if err := s.rdb.QueryRow(byIDGen + "SELECT count(*) FROM gen").Scan(&probed); err != nil || probed != 6 {
		t.Fatalf("generations probed: %d (%v), want 5 and the end marker", probed, err)
	}
	if ins := mustPut(t, s, rows[2]); ins {
		t.Fatal("a blob of the middle generation was stored twice")
	}
	// A new put lands in the newest generation and is found there after
	// the index commit; with the oldest rows gone the first generation moves.
	nb := mkBlob(50, tagOf(1), t0+100, 64)
	mustPut(t, s, nb)
	rows, seqs = append(rows, nb), append(seqs, 1<<40+1)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	lookAll(0)
	if err := openAndRun(path, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(context.Background(), "DELETE FROM blobs WHERE seq < 65536")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	lookAll(2)
}

// A file too full to be rebuilt keeps version 3 and every row: Open fails with an error
// that names the migration, and succeeds once there is room.
func TestMigrateToVersion4DiskFull(t *testing.T) {
	t.Parallel()
	c := newClock()
	path := dbPath(t)
	var rows []Blob
	for i := range 300 {
		rows = append(rows, mkBlob(i, tagOf(byte(i%5+1)), t0+100, 1000))
	}
	writeOldFile(t, path, 3, rows)
	var pages int64
	if err := openAndRun(path, func(conn *sql.Conn) error {
		return conn.QueryRowContext(context.Background(), "PRAGMA page_count").Scan(&pages)
	}); err != nil {
		t.Fatal(err)
	}
	// The rebuild holds a second copy of the table until it commits: no room for it.
	_, err := Open(path, Options{Now: c.Now, MaxPageCount: pages + 8})
	if err == nil || !strings.Contains(err.Error(), "version 4") {
		t.Fatalf("Open of a full file: %v, want a failed migration to version 4", err)
	}
	t.Logf("Open: %v", err)
	var v, n int
	if err := openAndRun(path, func(conn *sql.Conn) error {
		ctx := context.Background()
		if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		return conn.QueryRowContext(ctx, "SELECT count(*) FROM blobs").Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	if v != 3 || n != len(rows) {
		t.Fatalf("after the failed migration: version %d, %d rows; want 3 and %d", v, n, len(rows))
	}
	s := openStore(t, path, Options{Now: c.Now})
	checkTotals(t, s)
	for _, i := range []int{0, 150, 299} {
		if b, ok, err := s.Get(rows[i].ID); err != nil || !ok || !bytes.Equal(b.Envelope, rows[i].Envelope) {
			t.Fatalf("row %d after the migration with room: %v %v", i, ok, err)
		}
	}
}
