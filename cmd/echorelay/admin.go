package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
)

// adminState is what the status endpoints read.
type adminState struct {
	node    *peers.Node
	relay   *echo.Relay
	store   *store.Store
	started time.Time
}

func (a *adminState) status() map[string]any {
	s := a.relay.Snapshot()
	ss := a.store.Stats()
	l := a.relay.Limits()
	return map[string]any{
		"version":       version,
		"fingerprint":   a.node.Fingerprint(),
		"port":          a.node.Port(),
		"uptime_s":      int64(time.Since(a.started).Seconds()),
		"neighbours":    a.node.Neighbours(),
		"neighbours_up": s.Neighbours,
		"cache": map[string]any{
			"blobs": ss.Blobs, "bytes": ss.Bytes, "max_bytes": ss.MaxBytes, "evicted": ss.Evicted, "swept": ss.Swept,
		},
		"blobs_received":  s.Received,
		"blobs_stored":    s.Stored,
		"blobs_duplicate": s.Duplicates,
		"blobs_relayed":   s.Relayed,
		"queue_drops":     s.QueueDrops,
		"rejects":         s.Rejects,
		"reconcile":       a.node.ReconcileStats(),
		"limits":          map[string]any{"max_blob": l.MaxBlob, "max_ttl_s": int64(l.MaxTTL.Seconds()), "max_skew_s": int64(l.MaxSkew.Seconds())},
		"abuse":           a.abuseStatus(), // admin_abuse.go
	}
}

func adminHandler(a *adminState) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(a.status())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "echorelay %s\nstatus: /status\n", version)
	})
	return mux
}
