package store

import (
	"strings"
	"testing"
)

// TestQueryPlans pins the indexes the hot queries rely on: a plan change
// here turns a 1 ms Fetch into a full scan at a million rows.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := openStore(t, dbPath(t), Options{})
	var zero [32]byte
	for _, c := range []struct {
		q    string
		args []any
		want string
	}{
		{"SELECT seq FROM blobs WHERE tag = ? AND seq > ? AND expiry > ? ORDER BY seq LIMIT ?", []any{zero[:], 0, 0, 10}, "COVERING INDEX blobs_tag"},
		{"SELECT seq, id, tag, expiry, env FROM blobs WHERE tag = ? AND seq > ? AND expiry > ? ORDER BY seq LIMIT ?", []any{zero[:], 0, 0, 10}, "INDEX blobs_tag (tag=? AND seq>?)"},
		{"SELECT seq, id, tag, expiry, env FROM blobs WHERE seq IN (SELECT value FROM json_each(?)) AND expiry > ? ORDER BY seq", []any{"[1,2]", 0}, "INTEGER PRIMARY KEY (rowid=?)"},
		{"SELECT seq, id, tag, expiry, env FROM blobs WHERE seq > ? AND expiry > ? ORDER BY seq LIMIT ?", []any{0, 0, 10}, "INTEGER PRIMARY KEY"},
		{"SELECT expiry, id FROM blobs WHERE (expiry, id) >= (?, ?) AND (expiry, id) < (?, ?) ORDER BY expiry, id LIMIT ?", []any{0, zero[:], 0, zero[:], 10}, "COVERING INDEX blobs_expiry"},
		{"SELECT seq, size FROM blobs WHERE expiry < ? ORDER BY expiry, id", []any{0}, "INDEX blobs_expiry"},
		{"DELETE FROM blobs WHERE seq IN (SELECT seq FROM blobs WHERE expiry <= ? ORDER BY expiry LIMIT ?)", []any{0, 10}, "INDEX blobs_expiry"},
		{byIDGen + "SELECT 1 FROM blobs WHERE " + byIDWhere, []any{zero[:]}, "INDEX blobs_gen_id"},
		{"SELECT EXISTS (SELECT 1 FROM blobs WHERE expiry = ? AND id = ?)", []any{0, zero[:]}, "COVERING INDEX blobs_expiry"},
		// A compaction step reads part of a segment's rows and stops: no sort of them all first.
		{"SELECT seq, id, tag, expiry, size, off FROM blobs WHERE seg = ? ORDER BY seq", []any{1}, "INDEX blobs_seg (seg=?)"},
	} {
		rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+c.q, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, c.want) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\n  plan: %s\n  want: %s, no temp b-tree", c.q, p, c.want)
		}
	}
}
