//go:build !js

package home

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
)

// migrations[i] brings a history from version i to i+1, inside one transaction that also
// records the version in schema_version. Append only: a released migration is never edited,
// because files in the field already ran it. A migration is Go, not only SQL, because
// encrypting what an older version kept in clear needs the vault.
var migrations = []func(tx *sql.Tx, v *client.Vault) error{
	// 1: the schema of the first client (cmd/echorelay/history.go until issue #16), which had
	// no version: every value in clear. CREATE IF NOT EXISTS, so that a file of that version
	// counts as version 1 and a new file passes through the same steps.
	func(tx *sql.Tx, _ *client.Vault) error {
		_, err := tx.Exec(`
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
  PRIMARY KEY(file_id, idx));`)
		return err
	},
	// 2: encrypted at rest (issue #16 item 8). Values are sealed under the history key, lookup
	// columns hold keyed hashes (see client.Vault); a friend has two relays (theirs, where I
	// send, and mine, where I read; both the old single relay); invites have a state; the seen
	// set is keyed by (sender, message ID) with the blob it came in; the outbox is new. Message
	// times stay in clear, for ordering. meta holds a value sealed under the key, so that a
	// wrong key is told apart from a damaged file.
	migrateEncrypted,
	// 3: ratchet sessions (issue #21): one row per friend, the session record sealed under
	// the history key like every other value (the ratchet state holds its keys).
	func(tx *sql.Tx, _ *client.Vault) error {
		_, err := tx.Exec(`CREATE TABLE sessions(fp_h BLOB PRIMARY KEY, rec BLOB NOT NULL)`)
		return err
	},
	// 4: groups (issue #17): one row per group, its state (client/group's MarshalState, which
	// holds the group's keys) sealed under the history key; the ID only as a keyed hash.
	func(tx *sql.Tx, _ *client.Vault) error {
		_, err := tx.Exec(`CREATE TABLE groups(id_h BLOB PRIMARY KEY, rec BLOB NOT NULL)`)
		return err
	},
	// 5: message times sealed too (issue #16 item 8): the column sent_ms told anyone holding
	// the file when each message was written or read. The time moves into the sealed record;
	// the history is kept in the order messages were stored (n) and sorted by time as it is read.
	migrateSealTimes,
}

func migrateSealTimes(tx *sql.Tx, v *client.Vault) error {
	h := &History{v: v}
	type row struct {
		n, ms   int64
		fh, rec []byte
	}
	var rows []row
	if err := eachRow(tx, `SELECT n, sent_ms, friend_h, rec FROM messages`, func(r *sql.Rows) error {
		var x row
		if err := r.Scan(&x.n, &x.ms, &x.fh, &x.rec); err != nil {
			return err
		}
		rows = append(rows, x)
		return nil
	}); err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	for _, x := range rows {
		var m messageRec
		if err := h.open("message", x.fh, x.rec, &m); err != nil {
			return fmt.Errorf("message %d: %w", x.n, err)
		}
		m.Ms = x.ms
		rec, err := h.seal("message", x.fh, m)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE messages SET rec = ? WHERE n = ?`, rec, x.n); err != nil {
			return err
		}
	}
	_, err := tx.Exec(`DROP INDEX messages_friend; ALTER TABLE messages DROP COLUMN sent_ms;
CREATE INDEX messages_friend ON messages(friend_h, n);`)
	return err
}

func migrateEncrypted(tx *sql.Tx, v *client.Vault) error {
	h := &History{v: v}
	if _, err := tx.Exec(`
CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE friends_v2(fp_h BLOB PRIMARY KEY, name_h BLOB NOT NULL UNIQUE, rec BLOB NOT NULL);
CREATE TABLE invites_v2(secret_h BLOB PRIMARY KEY, created INTEGER NOT NULL, rec BLOB NOT NULL);
CREATE TABLE cursors_v2(key_h BLOB PRIMARY KEY, cursor INTEGER NOT NULL);
CREATE TABLE seen(key_h BLOB PRIMARY KEY, blob_h BLOB NOT NULL, at INTEGER NOT NULL);
CREATE INDEX seen_at ON seen(at);
CREATE TABLE messages_v2(n INTEGER PRIMARY KEY, friend_h BLOB NOT NULL, sent_ms INTEGER NOT NULL, rec BLOB NOT NULL);
CREATE INDEX messages_friend ON messages_v2(friend_h, sent_ms);
CREATE TABLE chunks_v2(key_h BLOB NOT NULL, idx INTEGER NOT NULL, at INTEGER NOT NULL, rec BLOB NOT NULL, PRIMARY KEY(key_h, idx));
CREATE TABLE outbox(n INTEGER PRIMARY KEY, rec BLOB NOT NULL, status BLOB NOT NULL);`); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO meta(k, v) VALUES('keycheck', ?)`, v.Seal("keycheck", nil, []byte(keyCheck))); err != nil {
		return err
	}
	fps := map[string]seal.Fingerprint{} // old name -> fingerprint
	if err := eachRow(tx, `SELECT name, fp, bundle, pair_secret, relay, added FROM friends`, func(r *sql.Rows) error {
		var name, relay string
		var fp, bundle, pair []byte
		var added int64
		if err := r.Scan(&name, &fp, &bundle, &pair, &relay, &added); err != nil {
			return err
		}
		if len(fp) != seal.FingerprintSize {
			return fmt.Errorf("%w: friend %s: fingerprint of %d bytes", client.ErrCorrupt, name, len(fp))
		}
		f := seal.Fingerprint(fp)
		fps[name] = f
		fph := h.fpHash(f)
		rec, err := h.seal("friend", fph, friendRec{Name: name, Bundle: bundle, Pair: pair, TheirRelay: relay, MyRelay: relay, Added: added})
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO friends_v2(fp_h, name_h, rec) VALUES(?,?,?)`, fph, h.nameHash(name), rec)
		return err
	}); err != nil {
		return fmt.Errorf("friends: %w", err)
	}
	if err := eachRow(tx, `SELECT secret, relay, name, created, expires FROM invites`, func(r *sql.Rows) error {
		var secret []byte
		var relay, name string
		var created, expires int64
		if err := r.Scan(&secret, &relay, &name, &created, &expires); err != nil {
			return err
		}
		inv := seal.Invite{Relay: relay}
		copy(inv.Secret[:], secret)
		sh := v.Hash("invite", inv.Secret[:])
		rec, err := h.seal("invite", sh, inviteRec{Code: inv.Code(), Name: name, Created: created, Expires: expires})
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO invites_v2(secret_h, created, rec) VALUES(?,?,?)`, sh, created, rec)
		return err
	}); err != nil {
		return fmt.Errorf("invites: %w", err)
	}
	if err := eachRow(tx, `SELECT relay, scope, cursor FROM cursors`, func(r *sql.Rows) error {
		var relay, scope string
		var c int64
		if err := r.Scan(&relay, &scope, &c); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO cursors_v2(key_h, cursor) VALUES(?,?)`, h.cursorKey(relay, scope), c)
		return err
	}); err != nil {
		return fmt.Errorf("cursors: %w", err)
	}
	if err := eachRow(tx, `SELECT msg_id, sender, at FROM seen_msgs`, func(r *sql.Rows) error {
		var id, sender []byte
		var at int64
		if err := r.Scan(&id, &sender, &at); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT OR IGNORE INTO seen(key_h, blob_h, at) VALUES(?, x'', ?)`, v.Hash("seen", append(sender, id...)), at)
		return err
	}); err != nil {
		return fmt.Errorf("seen: %w", err)
	}
	if err := eachRow(tx, `SELECT friend, dir, sent_ms, kind, body FROM messages ORDER BY n`, func(r *sql.Rows) error {
		var friend, dir, kind string
		var ms int64
		var body []byte
		if err := r.Scan(&friend, &dir, &ms, &kind, &body); err != nil {
			return err
		}
		fp, ok := fps[friend]
		if !ok {
			return nil // not possible in version 1, which never removed friends
		}
		fh := h.fpHash(fp)
		rec, err := h.seal("message", fh, messageRec{Friend: fp[:], Out: dir == "out", Kind: kind, Body: body})
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO messages_v2(friend_h, sent_ms, rec) VALUES(?,?,?)`, fh, ms, rec)
		return err
	}); err != nil {
		return fmt.Errorf("messages: %w", err)
	}
	if err := eachRow(tx, `SELECT file_id, idx, friend, count, size, name, sent_ms, data FROM chunks`, func(r *sql.Rows) error {
		var c seal.FileChunk
		var fileID, data []byte
		var friend string
		var ms int64
		if err := r.Scan(&fileID, &c.Index, &friend, &c.Count, &c.Size, &c.Name, &ms, &data); err != nil {
			return err
		}
		fp, ok := fps[friend]
		if !ok {
			return nil
		}
		copy(c.FileID[:], fileID)
		key := h.chunkKey(fp, c)
		rec, err := h.seal("chunk", appendIdx(key, c.Index), chunkRec{Name: c.Name, Data: data})
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT OR IGNORE INTO chunks_v2(key_h, idx, at, rec) VALUES(?,?,?,?)`, key, c.Index, ms/1000, rec)
		return err
	}); err != nil {
		return fmt.Errorf("chunks: %w", err)
	}
	_, err := tx.Exec(`
DROP TABLE friends; DROP TABLE invites; DROP TABLE cursors; DROP TABLE seen_blobs; DROP TABLE seen_msgs;
DROP TABLE messages; DROP TABLE chunks;
ALTER TABLE friends_v2 RENAME TO friends; ALTER TABLE invites_v2 RENAME TO invites;
ALTER TABLE cursors_v2 RENAME TO cursors; ALTER TABLE messages_v2 RENAME TO messages;
ALTER TABLE chunks_v2 RENAME TO chunks;`)
	return err
}

// eachRow runs fn on every row of query. The rows are read into memory first: the same
// transaction writes while they are walked.
func eachRow(tx *sql.Tx, query string, fn func(*sql.Rows) error) error {
	rows, err := tx.Query(query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// migrate runs the migrations the file has not seen, up to version target, each in its own
// transaction together with its row in schema_version. It returns the version the file had.
func migrate(db *sql.DB, v *client.Vault, target int) (int, error) {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return 0, fmt.Errorf("failed to read schema version: %w", err)
	}
	var cur int
	if err := db.QueryRow(`SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return 0, fmt.Errorf("failed to read schema version: %w", err)
	}
	if cur > len(migrations) {
		return cur, fmt.Errorf("%w: file version %d, supported %d", client.ErrSchemaTooNew, cur, len(migrations))
	}
	from := cur
	for ; cur < target; cur++ {
		if err := inTx(db, func(tx *sql.Tx) error {
			if err := migrations[cur](tx, v); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO schema_version(version, applied) VALUES(?, ?)`, cur+1, time.Now().Unix())
			return err
		}); err != nil {
			return from, fmt.Errorf("failed to migrate history to version %d: %w", cur+1, err)
		}
	}
	return from, nil
}

func inTx(db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}
