// Package admin is the relay's admin side: one typed Status built from the relay's snapshots,
// and its three faces on the admin listener: the status page (/), the same numbers as JSON
// (/status) and in the Prometheus text format (/metrics). `echorelay status` decodes the JSON
// back into the same Status and prints it with WriteText.
//
// Status is the single source: the page, /metrics and the terminal read its fields directly,
// never through JSON and back. A counter added to the relay shows up once it has a field here
// and a line in Counters.
//
// Every face shows numbers only: no client address, no mailbox tag, and no neighbour address
// unless Collector.ShowAddresses. The server (server.go) logs nothing, so it names no client
// address anywhere.
//
// The package never prints, never reads flags and never exits: cmd/echorelay wires it (the
// listen address, the token, the data-dir files) and owns the output.
package admin

import (
	"os"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
)

// Status is everything the admin listener shows. /status is its JSON; the names of the JSON
// fields are read by `echorelay status` of the same version and by scrapers of /status.
type Status struct {
	// The relay itself.
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Fingerprint string    `json:"fingerprint"`
	Port        int       `json:"port"`
	Pid         int       `json:"pid"` // for `echorelay reload`, which signals it
	UptimeS     int64     `json:"uptime_s"`
	Started     time.Time `json:"started"`
	Now         time.Time `json:"now"` // the relay's clock when it answered

	Neighbours   []Neighbour `json:"neighbours"`
	NeighboursUp int         `json:"neighbours_up"` // linked neighbours (echorelay and Echo)

	Cache Cache `json:"cache"`

	// The flood rule's counters since start (echo.StatsSnapshot).
	Received   int64            `json:"blobs_received"`
	Stored     int64            `json:"blobs_stored"`
	Duplicates int64            `json:"blobs_duplicate"`
	Relayed    int64            `json:"blobs_relayed"`
	QueueDrops int64            `json:"queue_drops"`
	Rejects    map[string]int64 `json:"rejects"` // by wire error code name

	Limits    Limits               `json:"limits"`
	Reconcile peers.ReconcileStats `json:"reconcile"`
	Echo      map[string]int64     `json:"echo"` // the Echo bridge's counters by name
	Abuse     Abuse                `json:"abuse"`
	Memory    peers.MemoryStats    `json:"memory"` // the links' memory budget

	PeersFile PeersFile `json:"peers_file"`
	History   History   `json:"history"`
}

// Cache is the store's part of the status.
type Cache struct {
	Blobs        int64 `json:"blobs"`
	Bytes        int64 `json:"bytes"`
	MaxBytes     int64 `json:"max_bytes"`
	Evicted      int64 `json:"evicted"`
	Swept        int64 `json:"swept"`
	LogBytes     int64 `json:"log_bytes"`
	LogSyncs     int64 `json:"log_syncs"`
	SyncFailures int64 `json:"sync_failures"`
	FsyncEveryMs int64 `json:"fsync_every_ms"`
	OverShare    int64 `json:"over_share"` // puts refused: their source held its fair share of a full cache
}

// Limits are the relay's envelope limits.
type Limits struct {
	MaxBlob  int64 `json:"max_blob"`
	MaxTTLS  int64 `json:"max_ttl_s"`
	MaxSkewS int64 `json:"max_skew_s"`
}

// Abuse is the abuse limits' block: refusals, closes by reason, the limits in force. It
// carries counts only, never an address.
type Abuse struct {
	peers.AbuseStats
	StampRejected   int64 `json:"stamp_rejected"`   // blobs refused for a missing or weak stamp
	FloodedUnstored int64 `json:"flooded_unstored"` // blobs flooded although the store was full
}

// PeersFile is what the relay knows of its peers file: when it last applied it and the error
// of the last attempt that failed, so the page, `echorelay status` and `echorelay reload` can
// say what a SIGHUP did.
type PeersFile struct {
	Path       string    `json:"path"`
	Neighbours int       `json:"neighbours"`
	Loaded     time.Time `json:"loaded"`
	Error      string    `json:"error,omitempty"`
	ErrorAt    time.Time `json:"error_at,omitzero"`
	Attempts   int64     `json:"reloads"` // reads tried, at start and on each SIGHUP
}

// Configured is the number of neighbours from the peers file (rows that are not inbound).
func (s *Status) Configured() int {
	n := 0
	for _, nb := range s.Neighbours {
		if !nb.Inbound {
			n++
		}
	}
	return n
}

// Collector builds a Status from the relay's parts. Its fields are set once, before the
// first call.
type Collector struct {
	Node          *peers.Node
	Relay         *echo.Relay
	Store         *store.Store
	Name          string
	Version       string
	Started       time.Time
	ShowAddresses bool             // neighbour addresses on the page (--admin-show-addresses)
	PeersFile     func() PeersFile // nil: no peers file
	History       *HistoryRing     // nil: no graphs
}

// Status reads the relay's snapshots now.
func (c *Collector) Status() Status {
	now := time.Now()
	s := c.Relay.Snapshot()
	ss := c.Store.Stats()
	l := c.Relay.Limits()
	st := Status{
		Name: c.Name, Version: c.Version, Fingerprint: c.Node.Fingerprint(), Port: c.Node.Port(), Pid: os.Getpid(),
		UptimeS: int64(now.Sub(c.Started).Seconds()), Started: c.Started.UTC().Truncate(time.Second), Now: now.UTC().Truncate(time.Second),
		Neighbours:   Neighbours(c.Node.Neighbours(), c.ShowAddresses, now),
		NeighboursUp: s.Neighbours,
		Cache: Cache{Blobs: ss.Blobs, Bytes: ss.Bytes, MaxBytes: ss.MaxBytes, Evicted: int64(ss.Evicted), Swept: int64(ss.Swept),
			LogBytes: ss.LogBytes, LogSyncs: int64(ss.LogSyncs), SyncFailures: int64(ss.SyncFailures), FsyncEveryMs: ss.SyncEvery.Milliseconds(),
			OverShare: int64(ss.OverShare)},
		Received: s.Received, Stored: s.Stored, Duplicates: s.Duplicates, Relayed: s.Relayed, QueueDrops: s.QueueDrops, Rejects: s.Rejects,
		Limits:    Limits{MaxBlob: int64(l.MaxBlob), MaxTTLS: int64(l.MaxTTL.Seconds()), MaxSkewS: int64(l.MaxSkew.Seconds())},
		Reconcile: c.Node.ReconcileStats(),
		Echo:      c.Node.EchoCounters(),
		Abuse:     Abuse{AbuseStats: c.Node.Abuse(), StampRejected: s.Rejects["stamp_required"], FloodedUnstored: s.FloodedUnstored},
		Memory:    c.Node.Memory(),
	}
	if c.PeersFile != nil {
		st.PeersFile = c.PeersFile()
	}
	if c.History != nil {
		st.History = c.History.View()
	} else {
		st.History = History{BlobsIn: []float64{}, BlobsOut: []float64{}, CacheBytes: []float64{}}
	}
	return st
}

// Sample reads the counters the graphs follow.
func (c *Collector) Sample() Sample {
	s, ss := c.Relay.Snapshot(), c.Store.Stats()
	return Sample{At: time.Now(), In: s.Received, Out: s.Relayed, CacheBytes: ss.Bytes, CacheBlobs: ss.Blobs}
}
