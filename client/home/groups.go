//go:build !js

package home

import (
	"fmt"
)

// groupRec is a group's state as sealed in groups.rec.
type groupRec struct {
	State []byte `json:"state"`
}

// GroupStates implements client.Store.
func (h *History) GroupStates() ([][]byte, error) {
	rows, err := h.db.Query(`SELECT id_h, rec FROM groups`)
	if err != nil {
		return nil, fmt.Errorf("failed to read groups: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var idh, sealed []byte
		if err := rows.Scan(&idh, &sealed); err != nil {
			return nil, fmt.Errorf("failed to read groups: %w", err)
		}
		var r groupRec
		if err := h.open("group", idh, sealed, &r); err != nil {
			return nil, err
		}
		out = append(out, r.State)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("failed to read groups: %w", err)
	}
	return out, nil
}

// PutGroupState implements client.Store.
func (h *History) PutGroupState(id [16]byte, state []byte) error {
	idh := h.v.Hash("group", id[:])
	sealed, err := h.seal("group", idh, groupRec{State: state})
	if err != nil {
		return err
	}
	if _, err := h.db.Exec(`INSERT OR REPLACE INTO groups(id_h, rec) VALUES(?, ?)`, idh, sealed); err != nil {
		return fmt.Errorf("failed to keep group: %w", err)
	}
	return nil
}
