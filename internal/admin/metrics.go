package admin

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// /metrics in the Prometheus text exposition format (version 0.0.4), written by hand: each
// family has # HELP and # TYPE, counters end in _total, reasons and neighbours are labels.
// Like the page it holds numbers only; a neighbour is labelled by its name on the status page.

// MetricsContentType is the Content-Type of /metrics.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metricWriter writes families one after the other.
type metricWriter struct {
	w *bufio.Writer
}

func (m metricWriter) family(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// sample writes one series; labels alternate name, value.
func (m metricWriter) sample(name string, v float64, labels ...string) {
	m.w.WriteString(name)
	if len(labels) > 0 {
		m.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.w.WriteByte(',')
			}
			m.w.WriteString(labels[i] + `="` + escapeLabel(labels[i+1]) + `"`)
		}
		m.w.WriteByte('}')
	}
	m.w.WriteByte(' ')
	m.w.WriteString(formatMetric(v))
	m.w.WriteByte('\n')
}

func (m metricWriter) one(name, typ, help string, v float64) {
	m.family(name, typ, help)
	m.sample(name, v)
}

func formatMetric(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// metricName makes a valid metric name part from a /status key.
func metricName(key string) string {
	b := []byte(key)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// WriteMetrics writes r in the Prometheus text format.
func WriteMetrics(out io.Writer, r *Status) error {
	m := metricWriter{bufio.NewWriter(out)}
	m.family("echorelay_info", "gauge", "Always 1; the labels name the relay and its version.")
	m.sample("echorelay_info", 1, "name", r.Name, "version", r.Version)
	m.one("echorelay_uptime_seconds", "gauge", "Seconds since the relay started.", float64(r.UptimeS))
	m.one("echorelay_neighbours_up", "gauge", "Neighbour relays with a link up.", float64(r.NeighboursUp))
	m.one("echorelay_neighbours_configured", "gauge", "Lines in the peers file.", float64(r.Configured()))

	// Per neighbour; names are made unique so that every series is distinct.
	type nb struct {
		name, link string
		v          Neighbour
	}
	var ns []nb
	seen := map[string]int{}
	for _, n := range r.Neighbours {
		link := "dialed"
		if n.Inbound {
			link = "inbound"
		}
		name := n.Peer
		if seen[name+"\x00"+link]++; seen[name+"\x00"+link] > 1 {
			name = fmt.Sprintf("%s #%d", name, seen[name+"\x00"+link])
		}
		ns = append(ns, nb{name, link, n})
	}
	if len(ns) > 0 {
		m.family("echorelay_neighbour_up", "gauge", "1 while the link to this neighbour is up, else 0.")
		for _, n := range ns {
			up := 0.0
			if n.v.State == "up" {
				up = 1
			}
			m.sample("echorelay_neighbour_up", up, "neighbour", n.name, "link", n.link)
		}
		m.family("echorelay_neighbour_blobs_in_total", "counter", "Blobs received from this neighbour on its current link.")
		for _, n := range ns {
			m.sample("echorelay_neighbour_blobs_in_total", float64(n.v.BlobsIn), "neighbour", n.name, "link", n.link)
		}
		m.family("echorelay_neighbour_blobs_out_total", "counter", "Blobs sent to this neighbour on its current link.")
		for _, n := range ns {
			m.sample("echorelay_neighbour_blobs_out_total", float64(n.v.BlobsOut), "neighbour", n.name, "link", n.link)
		}
	}

	m.one("echorelay_cache_blobs", "gauge", "Blobs in the cache.", float64(r.Cache.Blobs))
	m.one("echorelay_cache_bytes", "gauge", "Bytes of blobs in the cache.", float64(r.Cache.Bytes))
	m.one("echorelay_cache_max_bytes", "gauge", "Cap on the cache (--max-store).", float64(r.Cache.MaxBytes))
	m.one("echorelay_cache_evicted_total", "counter", "Blobs removed before expiry to make room.", float64(r.Cache.Evicted))
	m.one("echorelay_cache_swept_total", "counter", "Expired blobs removed.", float64(r.Cache.Swept))
	m.one("echorelay_cache_log_syncs_total", "counter", "Fsyncs of the blob log (one per group commit; fewer with --fsync-every).", float64(r.Cache.LogSyncs))
	m.one("echorelay_cache_sync_failures_total", "counter", "Deferred fsyncs (--fsync-every) that failed: blobs acknowledged before them may be lost on a power cut.", float64(r.Cache.SyncFailures))
	m.one("echorelay_blobs_received_total", "counter", "Blobs offered by clients and neighbours.", float64(r.Received))
	m.one("echorelay_blobs_stored_total", "counter", "New blobs written to the cache.", float64(r.Stored))
	m.one("echorelay_blobs_duplicate_total", "counter", "Blobs dropped because the cache already had them.", float64(r.Duplicates))
	m.one("echorelay_blobs_relayed_total", "counter", "Blob copies queued to neighbours.", float64(r.Relayed))
	m.one("echorelay_queue_drops_total", "counter", "Blob copies dropped because a neighbour's queue was full.", float64(r.QueueDrops))

	m.family("echorelay_blobs_rejected_total", "counter", "Blobs refused, by reason (the protocol's error code names).")
	reasons := make([]string, 0, len(r.Rejects))
	for k := range r.Rejects {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		m.sample("echorelay_blobs_rejected_total", float64(r.Rejects[k]), "reason", k)
	}

	m.one("echorelay_limit_max_blob_bytes", "gauge", "Largest blob accepted (--max-blob).", float64(r.Limits.MaxBlob))
	m.one("echorelay_limit_max_ttl_seconds", "gauge", "Longest blob lifetime accepted (--max-ttl).", float64(r.Limits.MaxTTLS))

	// The counters of reconciliation, the Echo bridge and the abuse limits, by their key.
	for _, e := range r.Counters() {
		name := "echorelay_" + metricName(e.Key)
		m.family(name, "untyped", fmt.Sprintf("The field %s of /status.", e.Key))
		if e.Labels == nil {
			m.sample(name, e.Value)
			continue
		}
		keys := make([]string, 0, len(e.Labels))
		for k := range e.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.sample(name, e.Labels[k], "key", k)
		}
	}
	return m.w.Flush()
}
