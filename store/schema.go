package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
)

// migrations[i] brings a file from user_version i to i+1. Append only: a
// released migration is never edited, because files in the field already
// ran it.
var migrations = []string{
	// 1: the blobs. seq is the rowid, so the (tag, seq, expiry) index
	// answers "what is new in this mailbox" without touching the rows, and
	// the rows keep the envelope inline (WITHOUT ROWID would copy whole
	// envelopes into interior b-tree pages). Untagged blobs store tag NULL
	// and stay out of the partial tag index.
	`CREATE TABLE blobs (
		seq    INTEGER PRIMARY KEY AUTOINCREMENT,
		id     BLOB NOT NULL UNIQUE,
		tag    BLOB,
		expiry INTEGER NOT NULL,
		size   INTEGER NOT NULL,
		env    BLOB NOT NULL
	);
	CREATE INDEX blobs_tag ON blobs (tag, seq, expiry) WHERE tag IS NOT NULL;
	CREATE INDEX blobs_expiry ON blobs (expiry, id);`,

	// 2: running totals, so quotas and Stats never scan. Triggers keep
	// them in the same transaction as every insert and delete; existing
	// rows are counted once here.
	`CREATE TABLE totals (
		one   INTEGER PRIMARY KEY CHECK (one = 1),
		blobs INTEGER NOT NULL,
		bytes INTEGER NOT NULL
	);
	CREATE TABLE mailbox (
		tag   BLOB PRIMARY KEY,
		blobs INTEGER NOT NULL,
		bytes INTEGER NOT NULL
	) WITHOUT ROWID;
	INSERT INTO totals SELECT 1, count(*), coalesce(sum(size), 0) FROM blobs;
	INSERT INTO mailbox SELECT tag, count(*), sum(size) FROM blobs WHERE tag IS NOT NULL GROUP BY tag;
	CREATE TRIGGER blobs_insert AFTER INSERT ON blobs BEGIN
		UPDATE totals SET blobs = blobs + 1, bytes = bytes + new.size;
	END;
	CREATE TRIGGER blobs_delete AFTER DELETE ON blobs BEGIN
		UPDATE totals SET blobs = blobs - 1, bytes = bytes - old.size;
	END;
	CREATE TRIGGER blobs_insert_mailbox AFTER INSERT ON blobs WHEN new.tag IS NOT NULL BEGIN
		INSERT INTO mailbox (tag, blobs, bytes) VALUES (new.tag, 1, new.size)
			ON CONFLICT (tag) DO UPDATE SET blobs = blobs + 1, bytes = bytes + excluded.bytes;
	END;
	CREATE TRIGGER blobs_delete_mailbox AFTER DELETE ON blobs WHEN old.tag IS NOT NULL BEGIN
		UPDATE mailbox SET blobs = blobs - 1, bytes = bytes - old.size WHERE tag = old.tag;
		DELETE FROM mailbox WHERE tag = old.tag AND blobs <= 0;
	END;`,

	// 3: envelopes move to the blob log (vlog.go). A row with seg NULL
	// still holds its envelope in env (written before version 3); a new
	// row has env = x'' and points at its log record with (seg, off).
	// logpos is how far the log is indexed by committed rows: recovery
	// replays the records after it. segments counts the rows pointing into
	// each segment and the bytes of their records (header included), so
	// that an empty segment is deleted and a sparse one compacted;
	// blobs_seg finds a segment's rows for compaction (seg only grows, so
	// it is appended to, not written at random). Inserts no longer fire
	// triggers: the committer adds up what a transaction inserts and
	// applies it to totals, mailbox and segments once, before its first
	// delete and before it commits (writer.go, applyCounts). A trigger per
	// insert cost three more statements and a statement journal for every
	// blob. Deletes, rare and chunked, keep their triggers.
	`ALTER TABLE blobs ADD COLUMN seg INTEGER;
	ALTER TABLE blobs ADD COLUMN off INTEGER;
	CREATE INDEX blobs_seg ON blobs (seg) WHERE seg IS NOT NULL;
	CREATE TABLE logpos (
		one INTEGER PRIMARY KEY CHECK (one = 1),
		seg INTEGER NOT NULL,
		off INTEGER NOT NULL
	);
	INSERT INTO logpos VALUES (1, 0, 0);
	CREATE TABLE segments (
		seg   INTEGER PRIMARY KEY,
		blobs INTEGER NOT NULL,
		bytes INTEGER NOT NULL
	);
	DROP TRIGGER blobs_insert;
	DROP TRIGGER blobs_insert_mailbox;
	CREATE TRIGGER blobs_delete_segment AFTER DELETE ON blobs WHEN old.seg IS NOT NULL BEGIN
		UPDATE segments SET blobs = blobs - 1, bytes = bytes - old.size - 88 WHERE seg = old.seg;
	END;
	CREATE TRIGGER blobs_move_segment AFTER UPDATE OF seg ON blobs WHEN old.seg IS NOT new.seg BEGIN
		UPDATE segments SET blobs = blobs - 1, bytes = bytes - old.size - 88 WHERE seg = old.seg;
		INSERT INTO segments (seg, blobs, bytes) VALUES (new.seg, 1, new.size + 88)
			ON CONFLICT (seg) DO UPDATE SET blobs = blobs + 1, bytes = bytes + excluded.bytes;
	END;`,

	// 4: no index of whole IDs. The UNIQUE constraint on id kept a B-tree
	// of random 32-byte keys: at a million blobs every insert read and
	// dirtied a leaf that was not in the writer's cache (a page read and
	// ~3 KB of WAL per blob, most of the cost of ingest into a full store).
	// Uniqueness moves to (expiry, id), whose inserts land near each other
	// because blobs arriving together expire together: an ID is the
	// SHA-256 of an envelope that carries its expiry, so one ID never comes
	// with two expiries. Lookups by ID alone (Has, Get; only reconciliation
	// needs them) use blobs_gen_id, keyed by the generation of the seq
	// (seq >> 16, 65,536 seqs) and the ID's first 8 bytes: inserts go to
	// the newest generation only, a region of about 2 MB that stays cached,
	// and a lookup probes each generation (16 at a million blobs); the whole
	// ID is compared on the row. SQLite cannot drop a column constraint, so
	// the table is rebuilt: same columns, rows and seq values, and
	// sqlite_sequence keeps the highest seq ever handed out, also that of a
	// deleted blob. Dropping the old table drops its indexes and delete
	// triggers; they are made again as they were.
	`CREATE TABLE blobs_v4 (
		seq    INTEGER PRIMARY KEY AUTOINCREMENT,
		id     BLOB NOT NULL,
		tag    BLOB,
		expiry INTEGER NOT NULL,
		size   INTEGER NOT NULL,
		env    BLOB NOT NULL,
		seg    INTEGER,
		off    INTEGER
	);
	INSERT INTO blobs_v4 (seq, id, tag, expiry, size, env, seg, off)
		SELECT seq, id, tag, expiry, size, env, seg, off FROM blobs ORDER BY seq;
	CREATE TEMP TABLE last_seq AS SELECT seq FROM sqlite_sequence WHERE name = 'blobs';
	DROP TABLE blobs;
	ALTER TABLE blobs_v4 RENAME TO blobs;
	INSERT INTO temp.last_seq SELECT seq FROM sqlite_sequence WHERE name = 'blobs';
	DELETE FROM sqlite_sequence WHERE name = 'blobs';
	INSERT INTO sqlite_sequence (name, seq) SELECT 'blobs', max(seq) FROM temp.last_seq HAVING count(*) > 0;
	DROP TABLE temp.last_seq;
	CREATE INDEX blobs_tag ON blobs (tag, seq, expiry) WHERE tag IS NOT NULL;
	CREATE UNIQUE INDEX blobs_expiry ON blobs (expiry, id);
	CREATE INDEX blobs_gen_id ON blobs (seq >> 16, substr(id, 1, 8));
	CREATE INDEX blobs_seg ON blobs (seg) WHERE seg IS NOT NULL;
	CREATE TRIGGER blobs_delete AFTER DELETE ON blobs BEGIN
		UPDATE totals SET blobs = blobs - 1, bytes = bytes - old.size;
	END;
	CREATE TRIGGER blobs_delete_mailbox AFTER DELETE ON blobs WHEN old.tag IS NOT NULL BEGIN
		UPDATE mailbox SET blobs = blobs - 1, bytes = bytes - old.size WHERE tag = old.tag;
		DELETE FROM mailbox WHERE tag = old.tag AND blobs <= 0;
	END;
	CREATE TRIGGER blobs_delete_segment AFTER DELETE ON blobs WHEN old.seg IS NOT NULL BEGIN
		UPDATE segments SET blobs = blobs - 1, bytes = bytes - old.size - 88 WHERE seg = old.seg;
	END;
	CREATE TRIGGER blobs_move_segment AFTER UPDATE OF seg ON blobs WHEN old.seg IS NOT new.seg BEGIN
		UPDATE segments SET blobs = blobs - 1, bytes = bytes - old.size - 88 WHERE seg = old.seg;
		INSERT INTO segments (seg, blobs, bytes) VALUES (new.seg, 1, new.size + 88)
			ON CONFLICT (seg) DO UPDATE SET blobs = blobs + 1, bytes = bytes + excluded.bytes;
	END;`,

	// 5: fair shares (issue #15). Every blob records who brought it (src, Blob.Source: 8 bytes
	// the caller derives from a client's address or a neighbour's key; blobs from before this
	// version and blobs re-indexed from the log after a crash have the zero source), and the
	// sources table counts each source's blobs and bytes as mailbox does per tag, so that a
	// full store takes room from the largest source first and refuses a source over its share
	// (writer.go evict). blobs_src finds a source's soonest-expiring blobs. Untagged blobs get
	// a quota like a mailbox: they are counted in mailbox under the all-zero tag.
	`ALTER TABLE blobs ADD COLUMN src BLOB NOT NULL DEFAULT x'0000000000000000';
	CREATE INDEX blobs_src ON blobs (src, expiry, id);
	CREATE TABLE sources (
		src   BLOB PRIMARY KEY,
		blobs INTEGER NOT NULL,
		bytes INTEGER NOT NULL
	) WITHOUT ROWID;
	INSERT INTO sources SELECT src, count(*), sum(size) FROM blobs GROUP BY src;
	CREATE TRIGGER blobs_delete_source AFTER DELETE ON blobs BEGIN
		UPDATE sources SET blobs = blobs - 1, bytes = bytes - old.size WHERE src = old.src;
		DELETE FROM sources WHERE src = old.src AND blobs <= 0;
	END;
	INSERT INTO mailbox SELECT zeroblob(32), count(*), sum(size) FROM blobs WHERE tag IS NULL HAVING count(*) > 0;
	CREATE TRIGGER blobs_delete_untagged AFTER DELETE ON blobs WHEN old.tag IS NULL BEGIN
		UPDATE mailbox SET blobs = blobs - 1, bytes = bytes - old.size WHERE tag = zeroblob(32);
		DELETE FROM mailbox WHERE tag = zeroblob(32) AND blobs <= 0;
	END;`,
}

// migrate runs the migrations the file has not seen yet, each in its own
// transaction together with its user_version bump, up to version target.
// A file with data (version 1 or later) is logged as it is upgraded: a
// rebuild of a large table can take a minute on a Raspberry Pi.
func migrate(ctx context.Context, conn *sql.Conn, target int, log *slog.Logger) error {
	var v int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("failed to read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("%w: file version %d, supported %d", ErrSchemaTooNew, v, len(migrations))
	}
	if v > 0 && v < target && log != nil {
		log.Info("store: upgrading the cache index", "from_version", v, "to_version", target)
	}
	for ; v < target; v++ {
		if err := runTx(ctx, conn, func() error {
			if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1))
			return err
		}); err != nil {
			return fmt.Errorf("failed to migrate schema to version %d: %w", v+1, err)
		}
	}
	return nil
}

// runTx runs f inside BEGIN IMMEDIATE … COMMIT on conn, rolling back when
// f or the commit fails.
func runTx(ctx context.Context, conn *sql.Conn, f func() error) error {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err := f()
	if err == nil {
		_, err = conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		rollback(conn)
	}
	return err
}

// rollback ends a transaction after a failure. SQLite may already have
// rolled back by itself (SQLITE_FULL, SQLITE_IOERR), so its error, "no
// transaction is active", carries no news.
func rollback(conn *sql.Conn) {
	_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
}
