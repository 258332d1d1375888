package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
)

// IntegrityCheck runs SQLite's PRAGMA integrity_check on the store file at path, which must not
// be open by a running relay. Opening it replays a write-ahead log left by a crash, as Open
// would. It returns nil when SQLite answers "ok", else an error listing what SQLite found.
func IntegrityCheck(ctx context.Context, path string) error {
	_, err := Check(ctx, path)
	return err
}

// CheckResult is what Check read: the blob log records it verified (length, checksum, ID)
// and their bytes. Blobs kept inside the index are checked by SQLite's integrity check.
type CheckResult struct {
	Records int64
	Bytes   int64
}

// Check is IntegrityCheck that also reports how much it verified.
func Check(ctx context.Context, path string) (CheckResult, error) {
	var res CheckResult
	err := check(ctx, path, &res)
	return res, err
}

func check(ctx context.Context, path string, res *CheckResult) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("failed to check store: %w", err)
	}
	db, err := sql.Open("sqlite", path+fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeoutMillis))
	if err != nil {
		return fmt.Errorf("failed to open store: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("failed to check store: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("failed to check store: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("failed to check store: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("store %s is damaged: %s", path, strings.Join(problems, "; "))
	}
	return checkLog(ctx, db, path, res)
}

// checkLog reads the blob log record of every index row that points into
// it and checks its length, checksum and ID. Records after the last
// committed position are not checked: Open indexes them (and cuts a torn
// tail) at the next start.
func checkLog(ctx context.Context, db *sql.DB, path string, res *CheckResult) error {
	l := newVlog(logDir(path))
	defer l.close()
	rows, err := db.QueryContext(ctx, "SELECT seq, id, seg, off, size FROM blobs WHERE seg IS NOT NULL ORDER BY seg, off")
	if err != nil {
		return fmt.Errorf("failed to check blob log: %w", err)
	}
	defer rows.Close()
	var problems []string
	bad := 0
	for rows.Next() {
		var seq, seg, off int64
		var id []byte
		var size int
		if err := rows.Scan(&seq, &id, &seg, &off, &size); err != nil {
			return fmt.Errorf("failed to check blob log: %w", err)
		}
		_, err := l.read(uint64(seg), off, size, [32]byte(id))
		if err == nil {
			res.Records++
			res.Bytes += int64(size)
			continue
		}
		if errors.Is(err, errRecordGone) {
			err = fmt.Errorf("segment %s is missing", segName(l.dir, uint64(seg)))
		}
		bad++
		if len(problems) < 5 {
			problems = append(problems, fmt.Sprintf("blob %d: %v", seq, err))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("failed to check blob log: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("store %s: %d blobs damaged in the blob log: %s", path, bad, strings.Join(problems, "; "))
	}
	return nil
}
