package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// statusReport is /status decoded: what the status page, /metrics and `echorelay status` show.
// Keys of /status it does not know are kept in Extra when they are numbers or maps of numbers,
// so a counter added to status() by another part of the relay is shown without changing this.
type statusReport struct {
	Name                 string          `json:"name"`
	Version              string          `json:"version"`
	Fingerprint          string          `json:"fingerprint"`
	Port                 int             `json:"port"`
	UptimeS              int64           `json:"uptime_s"`
	Started              time.Time       `json:"started"`
	Now                  time.Time       `json:"now"` // the relay's clock when it answered
	Neighbours           []neighbourView `json:"neighbours"`
	NeighboursUp         int             `json:"neighbours_up"`
	NeighboursConfigured int             `json:"-"` // counted from Neighbours
	Cache                struct {
		Blobs      int64 `json:"blobs"`
		Bytes      int64 `json:"bytes"`
		MaxBytes   int64 `json:"max_bytes"`
		Evicted    int64 `json:"evicted"`
		Swept      int64 `json:"swept"`
		LogSyncs   int64 `json:"log_syncs"`
		SyncFail   int64 `json:"sync_failures"`
		FsyncEvery int64 `json:"fsync_every_ms"`
	} `json:"cache"`
	Received   int64            `json:"blobs_received"`
	Stored     int64            `json:"blobs_stored"`
	Duplicates int64            `json:"blobs_duplicate"`
	Relayed    int64            `json:"blobs_relayed"`
	QueueDrops int64            `json:"queue_drops"`
	Rejects    map[string]int64 `json:"rejects"`
	Limits     struct {
		MaxBlob  int64 `json:"max_blob"`
		MaxTTLS  int64 `json:"max_ttl_s"`
		MaxSkewS int64 `json:"max_skew_s"`
	} `json:"limits"`
	History   historyView   `json:"history"`
	Pid       int           `json:"pid"`
	PeersFile peersFileView `json:"peers_file"`

	Extra []extraCounter `json:"-"`
}

// extraCounter is a number in /status this code does not know by name; Labels is set when it
// came from a map of numbers (one value per key).
type extraCounter struct {
	Key    string
	Value  float64
	Labels map[string]float64
}

// knownKeys are the top-level JSON names of statusReport.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[statusReport]()
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n != "" && n != "-" {
			m[n] = true
		}
	}
	return m
}()

func parseReport(b []byte) (statusReport, error) {
	var r statusReport
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("failed to read status: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return r, fmt.Errorf("failed to read status: %w", err)
	}
	for k, raw := range all {
		if !knownKeys[k] {
			r.Extra = appendExtra(r.Extra, k, raw, 0)
		}
	}
	sort.Slice(r.Extra, func(i, j int) bool { return r.Extra[i].Key < r.Extra[j].Key })
	for _, n := range r.Neighbours {
		if !n.Inbound {
			r.NeighboursConfigured++
		}
	}
	return r, nil
}

// appendExtra adds the numbers in raw under key: a number is one counter; an object at the top
// level is flattened into key_child counters; a deeper object of numbers is one counter with a
// value per map key (e.g. abuse_closes_by_reason). Strings, lists and deeper nesting are skipped.
func appendExtra(out []extraCounter, key string, raw json.RawMessage, depth int) []extraCounter {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return append(out, extraCounter{Key: key, Value: f})
	}
	if depth > 0 {
		var m map[string]float64
		if json.Unmarshal(raw, &m) == nil {
			if len(m) > 0 {
				out = append(out, extraCounter{Key: key, Labels: m})
			}
			return out
		}
	}
	var obj map[string]json.RawMessage
	if depth > 1 || json.Unmarshal(raw, &obj) != nil {
		return out
	}
	for k, v := range obj {
		out = appendExtra(out, key+"_"+k, v, depth+1)
	}
	return out
}

// verdict is the one line that says whether the relay works, and its tone (ok, warn, idle).
func (r statusReport) verdict() (string, string) {
	down := 0
	for _, n := range r.Neighbours {
		if !n.Inbound && n.State != "up" {
			down++
		}
	}
	switch {
	case r.Cache.SyncFail > 0:
		return fmt.Sprintf("Disk trouble: saving to disk failed %s; blobs accepted shortly before may be lost if the power goes. Check the SD card or disk (dmesg)",
			plural(int(r.Cache.SyncFail), "time", "times")), "warn"
	case r.PeersFile.Error != "":
		return fmt.Sprintf("Peers file not applied: %s. The relay keeps the neighbours it had; fix the file, then run echorelay reload",
			r.PeersFile.Error), "warn"
	case !r.Now.IsZero() && r.Now.Before(clockFloor):
		return fmt.Sprintf("Clock wrong: this computer says it is %s, so blobs are refused as too far ahead. Set the time (NTP, or sudo date -s)",
			r.Now.UTC().Format("2006-01-02 15:04")), "warn"
	case expiryRefusals(r) > 0:
		return fmt.Sprintf("Many blobs refused for their expiry (%d too far ahead, %d already expired): check this computer's clock (timedatectl)",
			r.Rejects["too_far_future"], r.Rejects["expired"]), "warn"
	case r.NeighboursConfigured == 0 && r.NeighboursUp == 0:
		return "Running on its own: no neighbours in the peers file yet", "idle"
	case down == 0:
		return fmt.Sprintf("Working: %s connected", plural(r.NeighboursUp, "neighbour", "neighbours")), "ok"
	case down == r.NeighboursConfigured && r.NeighboursUp == 0:
		return "Running, but no neighbour is connected", "warn"
	default:
		return fmt.Sprintf("Working, but not connected to %d of %d neighbours", down, r.NeighboursConfigured), "warn"
	}
}

// clockFloor is a time before any day this build runs on: a clock behind it was never set (a
// Raspberry Pi has no battery-backed clock and may boot in 1970 without network time).
var clockFloor = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// expiryRefusals is the number of blobs refused for their expiry when that is a quarter or more
// of all offered (and at least 20): then the clock, this relay's or its senders', is the likely
// cause rather than the odd stale blob. 0 otherwise.
func expiryRefusals(r statusReport) int64 {
	n := r.Rejects["too_far_future"] + r.Rejects["expired"]
	if n < 20 || n*4 < r.Received {
		return 0
	}
	return n
}

// rejectRow is one reject reason with its count.
type rejectRow struct {
	Reason string
	Count  int64
}

// rejectRows lists reasons with a non-zero count, largest first.
func (r statusReport) rejectRows() []rejectRow {
	var out []rejectRow
	for k, v := range r.Rejects {
		if v > 0 {
			out = append(out, rejectRow{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// cachePercent is the cache fill in percent, 0..100.
func (r statusReport) cachePercent() float64 {
	if r.Cache.MaxBytes <= 0 {
		return 0
	}
	return min(100, 100*float64(r.Cache.Bytes)/float64(r.Cache.MaxBytes))
}

// stateWords says a neighbour's state the way a person would.
func stateWords(n neighbourView) string {
	switch n.State {
	case "up":
		return "connected"
	case "connecting":
		return "connecting"
	case "backoff":
		return "retrying soon"
	}
	return n.State
}

// reasonWords explains a reject reason (a wire error code name from echo/PROTOCOL.md).
func reasonWords(code string) string {
	switch code {
	case "too_large":
		return "too large"
	case "expired":
		return "already expired"
	case "too_far_future":
		return "expiry too far ahead (clock?)"
	case "quota_exceeded":
		return "mailbox full"
	case "store_full":
		return "cache full"
	case "malformed":
		return "malformed"
	case "rate_limited":
		return "sender too fast"
	case "stamp_required":
		return "missing proof of work"
	case "not_neighbour":
		return "not a neighbour"
	}
	return strings.ReplaceAll(code, "_", " ")
}

func lastValue(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// blobWord is "blob" for one, "blobs" otherwise.
func blobWord(n int64) string {
	if n == 1 {
		return "blob"
	}
	return "blobs"
}

// humanBytes prints sizes in powers of 1024 with their proper names, so that the default
// --max-store of 1073741824 reads as the 1 GiB its help text promises.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[i-1])
}

// humanDuration prints the two largest units: "3 d 4 h", "5 min 2 s", "40 s".
func humanDuration(s int64) string {
	if s < 0 {
		s = 0
	}
	d, h, m := s/86400, s/3600%24, s/60%60
	sec := s % 60
	switch {
	case d > 0:
		return fmt.Sprintf("%d d %d h", d, h)
	case h > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case m > 0:
		return fmt.Sprintf("%d min %d s", m, sec)
	}
	return fmt.Sprintf("%d s", sec)
}

// humanCount groups thousands with a thin space: 1 234 567.
func humanCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
