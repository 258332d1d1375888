//go:build !js

package home

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/echorelay/echorelay/client"
)

// TestHistoryGroups: group states survive a reopen, a put replaces by ID, and neither a state
// nor a group ID is in clear in the file.
func TestHistoryGroups(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	v := client.NewVault([32]byte{5})
	h, err := OpenHistory(path, v)
	if err != nil {
		t.Fatal(err)
	}
	if sts, err := h.GroupStates(); err != nil || len(sts) != 0 {
		t.Fatalf("no groups yet: %d %v", len(sts), err)
	}
	a, b := [16]byte(bytes.Repeat([]byte("group-id-A"), 2)), [16]byte(bytes.Repeat([]byte("group-id-B"), 2))
	for _, put := range []struct {
		id    [16]byte
		state string
	}{{a, "first-state-of-A-secret"}, {b, "state-of-B-secret"}, {a, "second-state-of-A-secret"}} {
		if err := h.PutGroupState(put.id, []byte(put.state)); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	if h, err = OpenHistory(path, v); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	sts, err := h.GroupStates()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sts {
		got = append(got, string(s))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"second-state-of-A-secret", "state-of-B-secret"}) {
		t.Fatalf("group states after a reopen: %q", got)
	}
	h.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	raw := fileBytes(t, path)
	if bytes.Contains(raw, []byte("-secret")) || bytes.Contains(raw, []byte("group-id-A")) {
		t.Fatal("a group state or ID in clear in history.db")
	}
}
