//go:build !js

package home

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/mceliece/hybrid"
)

var (
	idOnce sync.Once
	testID *seal.Identity
)

func identity(t *testing.T) *seal.Identity {
	t.Helper()
	idOnce.Do(func() {
		var err error
		if testID, err = seal.GenerateIdentity(hybrid.New("mceliece348864f")); err != nil {
			panic(err)
		}
	})
	return testID
}

// oldSchema is cmd/echorelay/history.go's schema before issue #16, verbatim: a file with no
// version.
const oldSchema = `
CREATE TABLE IF NOT EXISTS friends(
  name TEXT PRIMARY KEY, fp BLOB NOT NULL UNIQUE, bundle BLOB NOT NULL,
  pair_secret BLOB NOT NULL, relay TEXT NOT NULL, added INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS invites(
  secret BLOB PRIMARY KEY, relay TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
  expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cursors(
  relay TEXT NOT NULL, scope TEXT NOT NULL, cursor INTEGER NOT NULL, PRIMARY KEY(relay, scope));
CREATE TABLE IF NOT EXISTS seen_blobs(id BLOB PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen_msgs(msg_id BLOB PRIMARY KEY, sender BLOB NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages(
  n INTEGER PRIMARY KEY, friend TEXT NOT NULL, dir TEXT NOT NULL, sent_ms INTEGER NOT NULL,
  kind TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
  file_id BLOB NOT NULL, idx INTEGER NOT NULL, friend TEXT NOT NULL, count INTEGER NOT NULL,
  size INTEGER NOT NULL, name TEXT NOT NULL, sent_ms INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(file_id, idx));
`

func fileBytes(t *testing.T, path string) []byte {
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(p)
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("SQLite format 3")) {
		t.Fatalf("no SQLite file at %s", path)
	}
	return all
}

// A history written by the first client keeps its friends, invite, cursors, seen messages,
// messages and file chunks through the migration, encrypted afterwards, with nothing of it
// left in clear in the file.
func TestMigrateFromUnversioned(t *testing.T) {
	t.Parallel()
	alice := identity(t) // the friend
	path := filepath.Join(t.TempDir(), "history.db")
	old, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	pair := bytes.Repeat([]byte{0xA5}, 32)
	secret := bytes.Repeat([]byte{0x5A}, 16)
	msgID := bytes.Repeat([]byte{0x77}, 16)
	fileID := bytes.Repeat([]byte{0x3C}, 16)
	fp := alice.Fingerprint()
	now := time.Now()
	const relay = "127.0.0.1:7788"
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{oldSchema, nil},
		{`INSERT INTO friends VALUES('alice', ?, ?, ?, ?, ?)`, []any{fp[:], alice.Bundle().Bytes(), pair, relay, now.Unix()}},
		{`INSERT INTO invites VALUES(?, ?, 'zoe-the-invitee', ?, ?)`, []any{secret, relay, now.Unix(), now.Add(time.Hour).Unix()}},
		{`INSERT INTO cursors VALUES(?, 'friend:0102', 42)`, []any{relay}},
		{`INSERT INTO seen_blobs VALUES(x'01', 1)`, nil},
		{`INSERT INTO seen_msgs VALUES(?, ?, ?)`, []any{msgID, fp[:], now.Unix()}},
		{`INSERT INTO messages(friend, dir, sent_ms, kind, body) VALUES('alice', 'in', ?, 'text', 'an old secret text')`, []any{now.UnixMilli()}},
		{`INSERT INTO messages(friend, dir, sent_ms, kind, body) VALUES('alice', 'out', ?, 'text', 'my old answer')`, []any{now.UnixMilli() + 1}},
		{`INSERT INTO chunks VALUES(?, 0, 'alice', 2, 10, 'half.txt', ?, 'first-half')`, []any{fileID, now.UnixMilli()}},
	} {
		if _, err := old.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	before := fileBytes(t, path)
	clear := [][]byte{pair, secret, []byte("an old secret text"), []byte("my old answer"), []byte("first-half"), []byte("zoe-the-invitee"),
		alice.Bundle().Bytes()[10:42]}
	for i, n := range clear {
		if !bytes.Contains(before, n) {
			t.Fatalf("needle %d is not in the old file: the check below would be blind", i)
		}
	}

	me := identity(t) // whose history it is: any identity; its key encrypts
	v := client.NewVault(me.HistoryKey())
	h, err := OpenHistory(path, v)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := h.Friends()
	if err != nil || len(fs) != 1 {
		t.Fatalf("friends: %v %v", fs, err)
	}
	f := fs[0]
	if f.Name != "alice" || f.Fingerprint() != fp || !bytes.Equal(f.Pair, pair) || f.TheirRelay != relay || f.MyRelay != relay || f.TheirRelayFP != "" {
		t.Fatalf("friend after migration: %+v", f)
	}
	invs, err := h.Invites()
	if err != nil || len(invs) != 1 || invs[0].Invite.Relay != relay || !bytes.Equal(invs[0].Invite.Secret[:], secret) ||
		invs[0].Name != "zoe-the-invitee" || invs[0].State != client.InvitePending || invs[0].Expires.Unix() != now.Add(time.Hour).Unix() {
		t.Fatalf("invites: %+v %v", invs, err)
	}
	if c, err := h.Cursor(relay, "friend:0102"); c != 42 || err != nil {
		t.Fatalf("cursor %d %v", c, err)
	}
	if s, err := h.MarkSeen(fp, seal.MessageID(msgID), [32]byte{9}, now); s != client.SeenSameBlob || err != nil {
		t.Fatalf("a message seen before the migration: %v %v", s, err)
	}
	ms, err := h.Messages(nil, 10)
	if err != nil || len(ms) != 2 || string(ms[0].Body) != "an old secret text" || ms[0].Out || !ms[1].Out || ms[1].Friend != fp {
		t.Fatalf("messages: %+v %v", ms, err)
	}
	if ms[0].Time.UnixMilli() != now.UnixMilli() || ms[1].Time.UnixMilli() != now.UnixMilli()+1 {
		t.Fatalf("message times after migration: %v %v, want %v", ms[0].Time, ms[1].Time, now)
	}
	second := seal.FileChunk{FileID: [16]byte(fileID), Index: 1, Count: 2, Size: 10, Name: "half.txt", Data: []byte("2nd-half")}
	if n, err := h.AddChunk(fp, second, now); n != 2 || err != nil {
		t.Fatalf("the migrated chunk and a new one: %d %v", n, err)
	}
	if parts, err := h.TakeChunks(fp, second); err != nil || len(parts) != 2 || string(parts[0]) != "first-half" {
		t.Fatalf("chunks: %q %v", parts, err)
	}
	var versions, maxV int
	h.db.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&versions, &maxV)
	if versions != len(migrations) || maxV != len(migrations) {
		t.Fatalf("schema_version: %d rows, max %d", versions, maxV)
	}
	h.Close()
	after := fileBytes(t, path)
	for i, n := range clear {
		if bytes.Contains(after, n) {
			t.Fatalf("needle %d is still in clear in the file after the migration", i)
		}
	}
	// Opened again: no second migration; under another key: refused, not misread.
	h, err = OpenHistory(path, v)
	if err != nil {
		t.Fatal(err)
	}
	h.db.QueryRow(`SELECT count(*) FROM schema_version`).Scan(&versions)
	h.Close()
	if versions != len(migrations) {
		t.Fatalf("reopening migrated again: %d versions", versions)
	}
	if _, err := OpenHistory(path, client.NewVault([32]byte{1})); !errors.Is(err, client.ErrHistoryKey) {
		t.Fatalf("another key: %v", err)
	}
}

// A file of a newer version is refused.
func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	v := client.NewVault([32]byte{2})
	h, err := OpenHistory(path, v)
	if err != nil {
		t.Fatal(err)
	}
	h.db.Exec(`INSERT INTO schema_version VALUES(?, 0)`, len(migrations)+1)
	h.Close()
	if _, err := OpenHistory(path, v); !errors.Is(err, client.ErrSchemaTooNew) {
		t.Fatalf("a newer file: %v", err)
	}
}

// The SQLite store keeps what the client puts in it, and nothing secret in clear.
func TestHistoryStore(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	h, err := OpenHistory(path, client.NewVault([32]byte{3}))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	id := identity(t)
	f := &client.Friend{Name: "sam-the-friend", Bundle: id.Bundle(), Pair: bytes.Repeat([]byte{0xC3}, 32), TheirRelay: "their.example:1",
		MyRelay: "mine.example:2", TheirRelayFP: "ab", Added: time.Unix(100, 0), Blocked: true}
	if err := h.PutFriend(f); err != nil {
		t.Fatal(err)
	}
	other, _ := seal.GenerateIdentity(hybrid.New("mceliece348864f"))
	if err := h.PutFriend(&client.Friend{Name: "sam-the-friend", Bundle: other.Bundle()}); !errors.Is(err, client.ErrNameTaken) {
		t.Fatalf("a second friend of the same name: %v", err)
	}
	fs, _ := h.Friends()
	if len(fs) != 1 || (fs[0].Name != f.Name || fs[0].TheirRelay != f.TheirRelay || fs[0].MyRelay != f.MyRelay || !fs[0].Blocked || fs[0].TheirRelayFP != "ab") {
		t.Fatalf("friend: %+v", fs)
	}
	es := []*client.OutboxEntry{{Group: [16]byte{1}, To: id.Fingerprint(), Relay: "their.example:1", Created: time.Unix(200, 0), What: "text", Envelope: []byte("sealed-envelope-bytes")},
		{Group: [16]byte{1}, To: id.Fingerprint(), Relay: "their.example:1", Created: time.Unix(200, 0), What: "text", Envelope: []byte("second")}}
	if err := h.AddOutbox(es); err != nil || es[0].ID == es[1].ID {
		t.Fatal(err)
	}
	es[0].Tries, es[0].LastErr, es[0].LastTry = 3, "relay down", time.Unix(300, 0)
	h.UpdateOutbox(es[0])
	h.DropOutbox(es[1].ID)
	got, err := h.Outbox()
	if err != nil || len(got) != 1 || got[0].Tries != 3 || got[0].LastErr != "relay down" || string(got[0].Envelope) != "sealed-envelope-bytes" || got[0].To != id.Fingerprint() {
		t.Fatalf("outbox: %+v %v", got, err)
	}
	for i := range 5 {
		h.MarkSeen(id.Fingerprint(), seal.MessageID{byte(i)}, [32]byte{byte(i)}, time.Unix(int64(1000+i), 0))
	}
	if s, _ := h.MarkSeen(id.Fingerprint(), seal.MessageID{1}, [32]byte{7}, time.Unix(2000, 0)); s != client.SeenReplay {
		t.Fatalf("same message, another blob: %v", s)
	}
	if err := h.PruneSeen(time.Unix(1001, 0), 2); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.SeenCount(); n != 2 {
		t.Fatalf("after prune: %d", n)
	}
	if s, _ := h.MarkSeen(id.Fingerprint(), seal.MessageID{4}, [32]byte{4}, time.Unix(2000, 0)); s != client.SeenSameBlob {
		t.Fatalf("the newest entry was pruned: %v", s)
	}
	h.AddMessage(&client.Message{Friend: id.Fingerprint(), Time: time.Unix(5, 0), Kind: "text", Body: []byte("a very personal message")})
	h.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	raw := fileBytes(t, path)
	for i, n := range [][]byte{f.Pair, []byte("sam-the-friend"), []byte("their.example"), []byte("mine.example"), []byte("sealed-envelope-bytes"),
		[]byte("relay down"), []byte("a very personal message"), id.Bundle().Bytes()[10:42], func() []byte { fp := id.Fingerprint(); return fp[:] }()} {
		if bytes.Contains(raw, n) {
			t.Fatalf("needle %d in clear in history.db", i)
		}
	}
}

// Ratchet sessions are kept sealed, come back as they were, and go with their friend.
func TestHistorySessions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	h, err := OpenHistory(path, client.NewVault([32]byte{4}))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	id := identity(t)
	fp := id.Fingerprint()
	if r, err := h.Session(fp); err != nil || r != nil {
		t.Fatalf("no session yet: %+v %v", r, err)
	}
	if err := h.PutFriend(&client.Friend{Name: "sam", Bundle: id.Bundle(), Pair: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	state := bytes.Repeat([]byte("ratchet-state-secret"), 20)
	rec := &client.SessionRecord{Friend: fp, ID: [16]byte{9, 9}, Initiator: true, Start: []byte("session-start-secret"), State: state,
		Started: time.UnixMilli(1_700_000_000_123), Reported: 2}
	if err := h.PutSession(rec); err != nil {
		t.Fatal(err)
	}
	got, err := h.Session(fp)
	if err != nil || got == nil {
		t.Fatal(err)
	}
	if got.ID != rec.ID || !got.Initiator || !bytes.Equal(got.Start, rec.Start) || !bytes.Equal(got.State, state) ||
		!got.Started.Equal(rec.Started) || !got.PeerSince.IsZero() || got.Reported != 2 {
		t.Fatalf("session: %+v", got)
	}
	rec.PeerSince, rec.Start, rec.State = time.UnixMilli(1_700_000_100_000), nil, []byte("advanced")
	rec.Spoke, rec.Prev, rec.PrevUntil = time.UnixMilli(1_600_000_000_001), []byte("previous"), time.Unix(1_800_000_000, 0)
	if err := h.PutSession(rec); err != nil {
		t.Fatal(err)
	}
	if got, _ = h.Session(fp); !got.PeerSince.Equal(rec.PeerSince) || got.Start != nil || string(got.State) != "advanced" ||
		!got.Spoke.Equal(rec.Spoke) || string(got.Prev) != "previous" || !got.PrevUntil.Equal(rec.PrevUntil) {
		t.Fatalf("replaced session: %+v", got)
	}
	h.PutSession(&client.SessionRecord{Friend: fp, State: state, Start: []byte("session-start-secret")})
	h.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	raw := fileBytes(t, path)
	if bytes.Contains(raw, []byte("ratchet-state-secret")) || bytes.Contains(raw, []byte("session-start-secret")) {
		t.Fatal("a session in clear in history.db")
	}
	if err := h.RemoveFriend(fp); err != nil {
		t.Fatal(err)
	}
	if r, err := h.Session(fp); err != nil || r != nil {
		t.Fatalf("the session outlived its friend: %+v %v", r, err)
	}
}

// Message times are sealed with the message (schema version 5): no column holds them, a file
// holds no trace of them in clear, and the history still reads in time order; the last N are
// the last N stored, so a message that arrives late is among them.
func TestMessageTimesSealed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	h, err := OpenHistory(path, client.NewVault([32]byte{5}))
	if err != nil {
		t.Fatal(err)
	}
	fp := identity(t).Fingerprint()
	base := time.UnixMilli(1_765_432_109_876)                                              // a distinctive value to look for in the file
	for i, at := range []time.Duration{0, 2 * time.Minute, time.Minute, 3 * time.Minute} { // the third arrived late
		m := &client.Message{Friend: fp, Time: base.Add(at), Kind: "text", Body: []byte{byte('a' + i)}}
		if err := h.AddMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := h.Messages(&fp, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, m := range ms {
		got += string(m.Body)
	}
	if got != "cbd" || !ms[0].Time.Equal(base.Add(time.Minute)) {
		t.Fatalf("the last 3 stored, in time order: %q (first at %v), want \"cbd\"", got, ms[0].Time)
	}
	var cols int
	if err := h.db.QueryRow(`SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'sent_ms'`).Scan(&cols); err != nil || cols != 0 {
		t.Fatalf("messages still has a sent_ms column (%d, %v)", cols, err)
	}
	h.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	h.Close()
	raw := fileBytes(t, path)
	// SQLite keeps an integer of this size as 6 bytes, big-endian.
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], uint64(base.UnixMilli()))
	if bytes.Contains(raw, be[2:]) {
		t.Fatal("a message time is in clear in history.db")
	}
}
