package main

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
	_ "modernc.org/sqlite"
)

// history is the client's SQLite file. It never leaves the device.
type history struct{ db *sql.DB }

const historySchema = `
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

func openHistory(path string) (*history, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, fmt.Errorf("failed to open history: %w", err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(historySchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("failed to open history %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.Close()
			return nil, err
		}
	}
	return &history{db: db}, nil
}

func (h *history) Close() error { return h.db.Close() }

type friend struct {
	name   string
	bundle *seal.Bundle
	pair   []byte
	relay  string
}

func (h *history) friends() ([]*friend, error) {
	rows, err := h.db.Query(`SELECT name, bundle, pair_secret, relay FROM friends ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*friend
	for rows.Next() {
		var f friend
		var raw []byte
		if err := rows.Scan(&f.name, &raw, &f.pair, &f.relay); err != nil {
			return nil, err
		}
		if f.bundle, err = seal.ParseBundle(raw); err != nil {
			return nil, fmt.Errorf("friend %s: stored bundle: %w", f.name, err)
		}
		out = append(out, &f)
	}
	return out, rows.Err()
}

func (h *history) friendByFP(fp seal.Fingerprint) (string, bool) {
	var name string
	err := h.db.QueryRow(`SELECT name FROM friends WHERE fp = ?`, fp[:]).Scan(&name)
	return name, err == nil
}

func (h *history) nameTaken(name string) bool {
	var n int
	h.db.QueryRow(`SELECT count(*) FROM friends WHERE name = ?`, name).Scan(&n)
	return n > 0
}

func (h *history) addFriend(f *friend) error {
	fp := f.bundle.Fingerprint()
	_, err := h.db.Exec(`INSERT INTO friends(name, fp, bundle, pair_secret, relay, added) VALUES(?,?,?,?,?,?)`,
		f.name, fp[:], f.bundle.Bytes(), f.pair, f.relay, time.Now().Unix())
	return err
}

func (h *history) cursor(relay, scope string) uint64 {
	var c int64
	h.db.QueryRow(`SELECT cursor FROM cursors WHERE relay = ? AND scope = ?`, relay, scope).Scan(&c)
	return uint64(c)
}

func (h *history) setCursor(relay, scope string, c uint64) error {
	_, err := h.db.Exec(`INSERT INTO cursors(relay, scope, cursor) VALUES(?,?,?)
		ON CONFLICT(relay, scope) DO UPDATE SET cursor = excluded.cursor`, relay, scope, int64(c))
	return err
}

// markBlob records a blob ID and reports whether it was new.
func (h *history) markBlob(id []byte) (bool, error) {
	r, err := h.db.Exec(`INSERT OR IGNORE INTO seen_blobs(id, at) VALUES(?, ?)`, id, time.Now().Unix())
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// markMessage records a message ID and reports whether it was new (false: a replay).
func (h *history) markMessage(id seal.MessageID, sender seal.Fingerprint) (bool, error) {
	r, err := h.db.Exec(`INSERT OR IGNORE INTO seen_msgs(msg_id, sender, at) VALUES(?,?,?)`, id[:], sender[:], time.Now().Unix())
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

func (h *history) addMessage(friend, dir string, sent time.Time, kind string, body []byte) error {
	_, err := h.db.Exec(`INSERT INTO messages(friend, dir, sent_ms, kind, body) VALUES(?,?,?,?,?)`,
		friend, dir, sent.UnixMilli(), kind, body)
	return err
}

type pendingInvite struct {
	inv     seal.Invite
	name    string
	expires time.Time
}

func (h *history) addInvite(inv seal.Invite, name string, expires time.Time) error {
	_, err := h.db.Exec(`INSERT INTO invites(secret, relay, name, created, expires) VALUES(?,?,?,?,?)`,
		inv.Secret[:], inv.Relay, name, time.Now().Unix(), expires.Unix())
	return err
}

func (h *history) invites() ([]pendingInvite, error) {
	rows, err := h.db.Query(`SELECT secret, relay, name, expires FROM invites ORDER BY created`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pendingInvite
	for rows.Next() {
		var p pendingInvite
		var s []byte
		var exp int64
		if err := rows.Scan(&s, &p.inv.Relay, &p.name, &exp); err != nil {
			return nil, err
		}
		copy(p.inv.Secret[:], s)
		p.expires = time.Unix(exp, 0)
		out = append(out, p)
	}
	return out, rows.Err()
}

func (h *history) dropInvite(inv seal.Invite) error {
	_, err := h.db.Exec(`DELETE FROM invites WHERE secret = ?`, inv.Secret[:])
	return err
}

// addChunk stores one chunk; it returns the whole file's chunks when all have arrived.
func (h *history) addChunk(friendName string, c seal.FileChunk, sent time.Time) (done bool, err error) {
	if _, err := h.db.Exec(`INSERT OR IGNORE INTO chunks(file_id, idx, friend, count, size, name, sent_ms, data)
		VALUES(?,?,?,?,?,?,?,?)`, c.FileID[:], c.Index, friendName, c.Count, int64(c.Size), c.Name, sent.UnixMilli(), c.Data); err != nil {
		return false, err
	}
	var n int
	err = h.db.QueryRow(`SELECT count(*) FROM chunks WHERE file_id = ? AND friend = ? AND count = ? AND size = ?`,
		c.FileID[:], friendName, c.Count, int64(c.Size)).Scan(&n)
	return n == int(c.Count), err
}

// takeFile returns a friend's file's chunks in index order and deletes them.
func (h *history) takeFile(fileID [16]byte, friend string) ([][]byte, error) {
	rows, err := h.db.Query(`SELECT data FROM chunks WHERE file_id = ? AND friend = ? ORDER BY idx`, fileID[:], friend)
	if err != nil {
		return nil, err
	}
	var parts [][]byte
	for rows.Next() {
		var d []byte
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, err
		}
		parts = append(parts, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	_, err = h.db.Exec(`DELETE FROM chunks WHERE file_id = ? AND friend = ?`, fileID[:], friend)
	return parts, err
}
