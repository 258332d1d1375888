//go:build !js

package home

import (
	"bytes"
	"cmp"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
	_ "modernc.org/sqlite" // the database/sql driver
)

// History is the SQLite client.Store.
type History struct {
	db *sql.DB
	v  *client.Vault
}

var _ client.Store = (*History)(nil)

// OpenHistory opens (creating or upgrading) the history at path, encrypted under v. It
// fails with client.ErrHistoryKey when the file was written under another key.
func OpenHistory(path string, v *client.Vault) (*History, error) {
	// secure_delete: a deleted row (a taken chunk, a sent outbox entry, the clear tables of
	// version 1 dropped by the migration) is overwritten, not left in a free page.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=secure_delete(1)")
	if err != nil {
		return nil, fmt.Errorf("failed to open history: %w", err)
	}
	db.SetMaxOpenConns(1)
	h := &History{db: db, v: v}
	from, err := migrate(db, v, len(migrations))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("failed to open history %s: %w", path, err)
	}
	if from < len(migrations) {
		// Write the upgraded pages into the file and empty the WAL, which may hold pages of
		// the old clear tables.
		if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			db.Close()
			return nil, fmt.Errorf("failed to open history %s: %w", path, err)
		}
	}
	if err := h.checkKey(); err != nil {
		db.Close()
		return nil, err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.Close()
			return nil, fmt.Errorf("failed to open history: %w", err)
		}
	}
	return h, nil
}

const keyCheck = "echorelay history key check"

func (h *History) checkKey() error {
	var sealed []byte
	if err := h.db.QueryRow(`SELECT v FROM meta WHERE k = 'keycheck'`).Scan(&sealed); err != nil {
		return fmt.Errorf("failed to open history: %w", err)
	}
	if pt, err := h.v.Open("keycheck", nil, sealed); err != nil || string(pt) != keyCheck {
		return client.ErrHistoryKey
	}
	return nil
}

// Close closes the file.
func (h *History) Close() error { return h.db.Close() }

func (h *History) seal(label string, row []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return h.v.Seal(label, row, b), nil
}

func (h *History) open(label string, row, sealed []byte, v any) error {
	b, err := h.v.Open(label, row, sealed)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", client.ErrCorrupt, label, err)
	}
	return nil
}

// friendRec is a friend as sealed in friends.rec.
type friendRec struct {
	Name         string `json:"name"`
	Bundle       []byte `json:"bundle"`
	Pair         []byte `json:"pair"`
	TheirRelay   string `json:"their_relay"`
	TheirRelayFP string `json:"their_relay_fp,omitempty"`
	MyRelay      string `json:"my_relay"`
	MyRelayFP    string `json:"my_relay_fp,omitempty"`
	Added        int64  `json:"added"`
	Blocked      bool   `json:"blocked,omitempty"`
}

func (h *History) fpHash(fp seal.Fingerprint) []byte { return h.v.Hash("friend", fp[:]) }
func (h *History) nameHash(n string) []byte          { return h.v.Hash("name", []byte(n)) }

func (h *History) Friends() ([]*client.Friend, error) {
	rows, err := h.db.Query(`SELECT fp_h, rec FROM friends`)
	if err != nil {
		return nil, fmt.Errorf("failed to read friends: %w", err)
	}
	defer rows.Close()
	var out []*client.Friend
	for rows.Next() {
		var fph, sealed []byte
		if err := rows.Scan(&fph, &sealed); err != nil {
			return nil, err
		}
		var r friendRec
		if err := h.open("friend", fph, sealed, &r); err != nil {
			return nil, err
		}
		b, err := seal.ParseBundle(r.Bundle)
		if err != nil {
			return nil, fmt.Errorf("friend %s: stored bundle: %w", r.Name, err)
		}
		out = append(out, &client.Friend{Name: r.Name, Bundle: b, Pair: r.Pair, TheirRelay: r.TheirRelay, TheirRelayFP: r.TheirRelayFP,
			MyRelay: r.MyRelay, MyRelayFP: r.MyRelayFP, Added: time.Unix(r.Added, 0), Blocked: r.Blocked})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortFriends(out)
	return out, nil
}

func sortFriends(fs []*client.Friend) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Name < fs[j-1].Name; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

func (h *History) PutFriend(f *client.Friend) error {
	fph := h.fpHash(f.Fingerprint())
	rec, err := h.seal("friend", fph, friendRec{Name: f.Name, Bundle: f.Bundle.Bytes(), Pair: f.Pair, TheirRelay: f.TheirRelay,
		TheirRelayFP: f.TheirRelayFP, MyRelay: f.MyRelay, MyRelayFP: f.MyRelayFP, Added: f.Added.Unix(), Blocked: f.Blocked})
	if err != nil {
		return err
	}
	var other []byte
	err = h.db.QueryRow(`SELECT fp_h FROM friends WHERE name_h = ?`, h.nameHash(f.Name)).Scan(&other)
	if err == nil && !bytes.Equal(other, fph) {
		return client.ErrNameTaken
	}
	_, err = h.db.Exec(`INSERT INTO friends(fp_h, name_h, rec) VALUES(?,?,?)
		ON CONFLICT(fp_h) DO UPDATE SET name_h = excluded.name_h, rec = excluded.rec`, fph, h.nameHash(f.Name), rec)
	return err
}

func (h *History) RemoveFriend(fp seal.Fingerprint) error {
	return inTx(h.db, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM friends WHERE fp_h = ?`, h.fpHash(fp)); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM sessions WHERE fp_h = ?`, h.fpHash(fp))
		return err
	})
}

// sessionRec is a ratchet session as sealed in sessions.rec.
type sessionRec struct {
	ID        []byte `json:"id"`
	Initiator bool   `json:"initiator,omitempty"`
	Start     []byte `json:"start,omitempty"`
	State     []byte `json:"state"`
	Started   int64  `json:"started_ms"`
	PeerSince int64  `json:"peer_since_ms,omitempty"`
	Reported  int    `json:"reported,omitempty"`
	Prev      []byte `json:"prev,omitempty"`
	PrevUntil int64  `json:"prev_until,omitempty"`
	Spoke     int64  `json:"spoke_ms,omitempty"`
}

func (h *History) Session(fp seal.Fingerprint) (*client.SessionRecord, error) {
	fph := h.fpHash(fp)
	var sealed []byte
	err := h.db.QueryRow(`SELECT rec FROM sessions WHERE fp_h = ?`, fph).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read session: %w", err)
	}
	var r sessionRec
	if err := h.open("session", fph, sealed, &r); err != nil {
		return nil, err
	}
	if len(r.ID) != 16 {
		return nil, fmt.Errorf("%w: session ID of %d bytes", client.ErrCorrupt, len(r.ID))
	}
	out := &client.SessionRecord{Friend: fp, Initiator: r.Initiator, Start: r.Start, State: r.State,
		Started: time.UnixMilli(r.Started), Reported: r.Reported, Prev: r.Prev}
	copy(out.ID[:], r.ID)
	if r.PrevUntil != 0 {
		out.PrevUntil = time.Unix(r.PrevUntil, 0)
	}
	if r.Spoke != 0 {
		out.Spoke = time.UnixMilli(r.Spoke)
	}
	if r.PeerSince != 0 {
		out.PeerSince = time.UnixMilli(r.PeerSince)
	}
	return out, nil
}

func (h *History) PutSession(r *client.SessionRecord) error {
	fph := h.fpHash(r.Friend)
	rec := sessionRec{ID: r.ID[:], Initiator: r.Initiator, Start: r.Start, State: r.State, Started: r.Started.UnixMilli(), Reported: r.Reported}
	if !r.PeerSince.IsZero() {
		rec.PeerSince = r.PeerSince.UnixMilli()
	}
	if r.Prev != nil {
		rec.Prev, rec.PrevUntil = r.Prev, r.PrevUntil.Unix()
	}
	if !r.Spoke.IsZero() {
		rec.Spoke = r.Spoke.UnixMilli()
	}
	sealed, err := h.seal("session", fph, rec)
	if err != nil {
		return err
	}
	if _, err := h.db.Exec(`INSERT OR REPLACE INTO sessions(fp_h, rec) VALUES(?, ?)`, fph, sealed); err != nil {
		return fmt.Errorf("failed to keep session: %w", err)
	}
	return nil
}

// inviteRec is an invite as sealed in invites.rec; the code carries secret, relay, relay
// fingerprint and inviter binding.
type inviteRec struct {
	Code     string `json:"code"`
	RelayFP  string `json:"relay_fp,omitempty"`
	Name     string `json:"name,omitempty"`
	Created  int64  `json:"created"`
	Expires  int64  `json:"expires"`
	State    uint8  `json:"state"`
	Acceptor []byte `json:"acceptor,omitempty"`
	Group    []byte `json:"group,omitempty"` // a group invite's group ID
}

func (h *History) Invites() ([]*client.InviteRecord, error) {
	rows, err := h.db.Query(`SELECT secret_h, rec FROM invites ORDER BY created`)
	if err != nil {
		return nil, fmt.Errorf("failed to read invites: %w", err)
	}
	defer rows.Close()
	var out []*client.InviteRecord
	for rows.Next() {
		var sh, sealed []byte
		if err := rows.Scan(&sh, &sealed); err != nil {
			return nil, err
		}
		var r inviteRec
		if err := h.open("invite", sh, sealed, &r); err != nil {
			return nil, err
		}
		inv, err := seal.ParseInviteCode(r.Code)
		if err != nil {
			return nil, fmt.Errorf("%w: stored invite: %w", client.ErrCorrupt, err)
		}
		ir := &client.InviteRecord{Invite: inv, RelayFP: r.RelayFP, Name: r.Name, Created: time.Unix(r.Created, 0),
			Expires: time.Unix(r.Expires, 0), State: client.InviteState(r.State)}
		copy(ir.Acceptor[:], r.Acceptor)
		copy(ir.Group[:], r.Group)
		out = append(out, ir)
	}
	return out, rows.Err()
}

func (h *History) PutInvite(r *client.InviteRecord) error {
	sh := h.v.Hash("invite", r.Invite.Secret[:])
	rec := inviteRec{Code: r.Invite.Code(), RelayFP: r.RelayFP, Name: r.Name, Created: r.Created.Unix(), Expires: r.Expires.Unix(), State: uint8(r.State)}
	if r.State == client.InviteUsed {
		rec.Acceptor = r.Acceptor[:]
	}
	if r.Group != ([16]byte{}) {
		rec.Group = r.Group[:]
	}
	sealed, err := h.seal("invite", sh, rec)
	if err != nil {
		return err
	}
	_, err = h.db.Exec(`INSERT INTO invites(secret_h, created, rec) VALUES(?,?,?)
		ON CONFLICT(secret_h) DO UPDATE SET rec = excluded.rec`, sh, r.Created.Unix(), sealed)
	return err
}

func (h *History) DropInvite(secret [seal.InviteSecretSize]byte) error {
	_, err := h.db.Exec(`DELETE FROM invites WHERE secret_h = ?`, h.v.Hash("invite", secret[:]))
	return err
}

func (h *History) cursorKey(relay, scope string) []byte {
	return h.v.Hash("cursor", []byte(relay+"\x00"+scope))
}

func (h *History) Cursor(relay, scope string) (uint64, error) {
	var c int64
	err := h.db.QueryRow(`SELECT cursor FROM cursors WHERE key_h = ?`, h.cursorKey(relay, scope)).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint64(c), err
}

func (h *History) SetCursor(relay, scope string, c uint64) error {
	_, err := h.db.Exec(`INSERT INTO cursors(key_h, cursor) VALUES(?,?)
		ON CONFLICT(key_h) DO UPDATE SET cursor = excluded.cursor`, h.cursorKey(relay, scope), int64(c))
	return err
}

func (h *History) MarkSeen(sender seal.Fingerprint, msg seal.MessageID, blob [32]byte, at time.Time) (client.Seen, error) {
	key := h.v.Hash("seen", append(sender[:], msg[:]...))
	bh := h.v.Hash("blob", blob[:])
	var old []byte
	err := h.db.QueryRow(`SELECT blob_h FROM seen WHERE key_h = ?`, key).Scan(&old)
	switch {
	case err == nil && (len(old) == 0 || bytes.Equal(old, bh)):
		return client.SeenSameBlob, nil // an entry migrated from version 1 knows no blob: assume the same
	case err == nil:
		return client.SeenReplay, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	_, err = h.db.Exec(`INSERT INTO seen(key_h, blob_h, at) VALUES(?,?,?)`, key, bh, at.Unix())
	return client.SeenNew, err
}

func (h *History) PruneSeen(before time.Time, max int) error {
	if _, err := h.db.Exec(`DELETE FROM seen WHERE at < ?`, before.Unix()); err != nil {
		return err
	}
	_, err := h.db.Exec(`DELETE FROM seen WHERE key_h IN (SELECT key_h FROM seen ORDER BY at DESC LIMIT -1 OFFSET ?)`, max)
	return err
}

// SeenCount is the size of the seen set, for tests.
func (h *History) SeenCount() (int, error) {
	var n int
	err := h.db.QueryRow(`SELECT count(*) FROM seen`).Scan(&n)
	return n, err
}

type messageRec struct {
	Friend []byte `json:"friend"`
	Out    bool   `json:"out,omitempty"`
	Kind   string `json:"kind"`
	Body   []byte `json:"body"`
	From   []byte `json:"from,omitempty"` // a group message's sender
	Ms     int64  `json:"ms"`             // Unix milliseconds (sealed since version 5)
}

func (h *History) AddMessage(m *client.Message) error {
	fh := h.fpHash(m.Friend)
	rec := messageRec{Friend: m.Friend[:], Out: m.Out, Kind: m.Kind, Body: m.Body, Ms: m.Time.UnixMilli()}
	if m.From != (seal.Fingerprint{}) {
		rec.From = m.From[:]
	}
	sealed, err := h.seal("message", fh, rec)
	if err != nil {
		return err
	}
	_, err = h.db.Exec(`INSERT INTO messages(friend_h, rec) VALUES(?,?)`, fh, sealed)
	return err
}

// Messages returns the last messages stored (with friend, or all when friend is nil), sorted
// by their times. Times are sealed, so "last" is the order of storing: a message that arrives
// late is among the newest, shown where its time puts it.
func (h *History) Messages(friend *seal.Fingerprint, last int) ([]*client.Message, error) {
	var who []byte
	if friend != nil {
		who = h.fpHash(*friend)
	}
	rows, err := h.db.Query(`SELECT n, friend_h, rec FROM messages WHERE ? IS NULL OR friend_h = ?
		ORDER BY n DESC LIMIT ?`, who, who, last)
	if err != nil {
		return nil, fmt.Errorf("failed to read history: %w", err)
	}
	defer rows.Close()
	type read struct {
		n int64
		m *client.Message
	}
	var got []read
	for rows.Next() {
		var fh, sealed []byte
		var n int64
		if err := rows.Scan(&n, &fh, &sealed); err != nil {
			return nil, err
		}
		var r messageRec
		if err := h.open("message", fh, sealed, &r); err != nil {
			return nil, err
		}
		m := &client.Message{Out: r.Out, Time: time.UnixMilli(r.Ms), Kind: r.Kind, Body: r.Body}
		copy(m.Friend[:], r.Friend)
		copy(m.From[:], r.From)
		got = append(got, read{n, m})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(got, func(a, b read) int {
		if c := a.m.Time.Compare(b.m.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.n, b.n)
	})
	out := make([]*client.Message, len(got))
	for i, r := range got {
		out[i] = r.m
	}
	return out, nil
}

func (h *History) chunkKey(sender seal.Fingerprint, c seal.FileChunk) []byte {
	b := append(sender[:], c.FileID[:]...)
	b = binary.BigEndian.AppendUint32(b, c.Count)
	return h.v.Hash("chunk", binary.BigEndian.AppendUint64(b, c.Size))
}

type chunkRec struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

func (h *History) AddChunk(sender seal.Fingerprint, c seal.FileChunk, at time.Time) (int, error) {
	key := h.chunkKey(sender, c)
	row := appendIdx(key, c.Index)
	sealed, err := h.seal("chunk", row, chunkRec{Name: c.Name, Data: c.Data})
	if err != nil {
		return 0, err
	}
	if _, err := h.db.Exec(`INSERT OR IGNORE INTO chunks(key_h, idx, at, rec) VALUES(?,?,?,?)`, key, c.Index, at.Unix(), sealed); err != nil {
		return 0, err
	}
	var n int
	err = h.db.QueryRow(`SELECT count(*) FROM chunks WHERE key_h = ?`, key).Scan(&n)
	return n, err
}

func (h *History) TakeChunks(sender seal.Fingerprint, c seal.FileChunk) ([][]byte, error) {
	key := h.chunkKey(sender, c)
	rows, err := h.db.Query(`SELECT idx, rec FROM chunks WHERE key_h = ? ORDER BY idx`, key)
	if err != nil {
		return nil, err
	}
	var parts [][]byte
	for rows.Next() {
		var idx uint32
		var sealed []byte
		if err := rows.Scan(&idx, &sealed); err != nil {
			rows.Close()
			return nil, err
		}
		var r chunkRec
		if err := h.open("chunk", appendIdx(key, idx), sealed, &r); err != nil {
			rows.Close()
			return nil, err
		}
		parts = append(parts, r.Data)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	_, err = h.db.Exec(`DELETE FROM chunks WHERE key_h = ?`, key)
	return parts, err
}

type outboxRec struct {
	Group    []byte `json:"group"`
	To       []byte `json:"to"`
	Relay    string `json:"relay"`
	Created  int64  `json:"created"`
	What     string `json:"what"`
	Envelope []byte `json:"envelope"`
}

type outboxStatus struct {
	Tries   int    `json:"tries"`
	LastErr string `json:"last_err,omitempty"`
	LastTry int64  `json:"last_try,omitempty"`
}

func rowID(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func (h *History) AddOutbox(es []*client.OutboxEntry) error {
	tx, err := h.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, e := range es {
		var n int64
		if err := tx.QueryRow(`SELECT coalesce(max(n), 0) + 1 FROM outbox`).Scan(&n); err != nil {
			return err
		}
		rec, err := h.seal("outbox", rowID(n), outboxRec{Group: e.Group[:], To: e.To[:], Relay: e.Relay, Created: e.Created.Unix(), What: e.What, Envelope: e.Envelope})
		if err != nil {
			return err
		}
		st, err := h.seal("outbox-status", rowID(n), outboxStatus{})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO outbox(n, rec, status) VALUES(?,?,?)`, n, rec, st); err != nil {
			return err
		}
		e.ID = n
	}
	return tx.Commit()
}

func (h *History) Outbox() ([]*client.OutboxEntry, error) {
	rows, err := h.db.Query(`SELECT n, rec, status FROM outbox ORDER BY n`)
	if err != nil {
		return nil, fmt.Errorf("failed to read the outbox: %w", err)
	}
	defer rows.Close()
	var out []*client.OutboxEntry
	for rows.Next() {
		var n int64
		var rec, status []byte
		if err := rows.Scan(&n, &rec, &status); err != nil {
			return nil, err
		}
		var r outboxRec
		var st outboxStatus
		if err := h.open("outbox", rowID(n), rec, &r); err != nil {
			return nil, err
		}
		if err := h.open("outbox-status", rowID(n), status, &st); err != nil {
			return nil, err
		}
		e := &client.OutboxEntry{ID: n, Relay: r.Relay, Created: time.Unix(r.Created, 0), What: r.What, Envelope: r.Envelope,
			Tries: st.Tries, LastErr: st.LastErr}
		if st.LastTry != 0 {
			e.LastTry = time.Unix(st.LastTry, 0)
		}
		copy(e.Group[:], r.Group)
		copy(e.To[:], r.To)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (h *History) UpdateOutbox(e *client.OutboxEntry) error {
	st, err := h.seal("outbox-status", rowID(e.ID), outboxStatus{Tries: e.Tries, LastErr: e.LastErr, LastTry: e.LastTry.Unix()})
	if err != nil {
		return err
	}
	_, err = h.db.Exec(`UPDATE outbox SET status = ? WHERE n = ?`, st, e.ID)
	return err
}

func (h *History) DropOutbox(id int64) error {
	_, err := h.db.Exec(`DELETE FROM outbox WHERE n = ?`, id)
	return err
}

func appendIdx(key []byte, idx uint32) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(key), idx)
}
