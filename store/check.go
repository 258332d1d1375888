package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
)

// IntegrityCheck runs SQLite's PRAGMA integrity_check on the store file at path, which must not
// be open by a running relay. Opening it replays a write-ahead log left by a crash, as Open
// would. It returns nil when SQLite answers "ok", else an error listing what SQLite found.
func IntegrityCheck(ctx context.Context, path string) error {
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
	return nil
}
