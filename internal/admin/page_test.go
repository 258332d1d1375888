package admin

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/admin/admintest"
	"github.com/echorelay/echorelay/peers"
)

// findIPs returns the IP addresses in s (admintest.FindIPs).
func findIPs(s string) []string { return admintest.FindIPs(s, LooksLikeIP) }

func TestGraphPoints(t *testing.T) {
	vals := []float64{0, 5, 10, 2.5, -3}
	pts := graphPoints(vals, 10, 0, 300, 44, 2)
	if len(pts) != len(vals)+1 {
		t.Fatalf("%d points for %d values, want one more (the start of the first step)", len(pts), len(vals))
	}
	if pts[0][0] != 2 || pts[len(pts)-1][0] != 298 {
		t.Errorf("x from %v to %v, want 2 to 298", pts[0][0], pts[len(pts)-1][0])
	}
	if pts[3][1] != 2 {
		t.Errorf("the largest value is at y=%v, want the top (2)", pts[3][1])
	}
	if pts[0][1] != 42 || pts[1][1] != 42 || pts[5][1] != 42 {
		t.Errorf("zero and negative values at y=%v and %v, want the bottom (42)", pts[1][1], pts[5][1])
	}
	if pts[4][1] != 42-40*0.25 {
		t.Errorf("a quarter of the maximum at y=%v, want %v", pts[4][1], 42-40*0.25)
	}
	// 7 values of an hour of 60: drawn over the last 7/60 of the width, not stretched.
	pts = graphPoints([]float64{1, 1, 1, 1, 1, 1, 1}, 2, 53.0/60, 300, 44, 2)
	if x := pts[0][0]; x < 2+296*53.0/60-0.01 || x > 2+296*53.0/60+0.01 || pts[len(pts)-1][0] != 298 {
		t.Errorf("7 of 60 minutes drawn from x=%v to %v, want from %v to 298", x, pts[len(pts)-1][0], 2+296*53.0/60)
	}
	if pts[1][1] != 22 {
		t.Errorf("half the scale's top at y=%v, want 22", pts[1][1])
	}
	if one := graphPoints([]float64{7}, 10, 0.5, 100, 20, 2); len(one) != 2 || one[0][1] != one[1][1] || one[0][0] == one[1][0] {
		t.Errorf("one value: %v, want a flat line over its step", one)
	}

	for _, tc := range []struct {
		vals  []float64
		label string
		want  []string
	}{
		{nil, "nothing <yet>", []string{"stroke-dasharray", "nothing &lt;yet&gt;"}},
		{[]float64{1, 2}, "in", []string{"<polyline", `points="2,22 150,22 298,2"`, "<polygon", `class="base"`}},
		{[]float64{0, 0}, "flat", []string{`points="2,42 150,42 298,42"`}},
	} {
		svg := graphSVG(tc.vals, 2, 0, 300, 44, tc.label)
		for _, w := range tc.want {
			if !strings.Contains(svg, w) {
				t.Errorf("%v: %q lacks %q", tc.vals, svg, w)
			}
		}
		if err := wellFormed(svg); err != nil {
			t.Errorf("%v: not well-formed: %v\n%s", tc.vals, err, svg)
		}
	}

	for _, c := range []struct {
		v     float64
		bytes bool
		want  float64
	}{{0, false, 1}, {0.3, false, 0.5}, {3, false, 5}, {12, false, 20}, {100, false, 100}, {101, false, 200},
		{0, true, 1024}, {3e6, true, 5 << 20}, {600 << 20, true, 1000 << 20}, {1.5 * (1 << 30), true, 2 << 30}} {
		if got := niceTop(c.v, c.bytes); got != c.want {
			t.Errorf("niceTop(%v, %v) = %v, want %v", c.v, c.bytes, got, c.want)
		}
	}

	if got := sparkBlocks([]float64{0, 1, 2, 4, 8}); got != "▁▂▃▅█" {
		t.Errorf("sparkBlocks = %q", got)
	}
	if got := sparkBlocks([]float64{0, 0}); got != "▁▁" {
		t.Errorf("sparkBlocks of zeros = %q", got)
	}
}

// Each graph has a time axis that says which period it spans, a scale (top and 0) in units a
// person reads, and 7 minutes of samples fill only the last 7 minutes of the hour.
func TestStatusPageGraphAxes(t *testing.T) {
	r := testReport(t)
	r.History = History{StepS: 60, BlobsIn: []float64{1, 2, 3, 4, 5, 6, 12}, BlobsOut: make([]float64, 7), CacheBytes: []float64{1e6, 2e6, 3e6, 3e6, 3e6, 3e6, 3e6}}
	doc := renderDoc(t, r)
	if got := doc.ByID("graphs").All("h2", "")[0].Text(); got != "Last hour" {
		t.Errorf("graphs heading %q", got)
	}
	if got := doc.ByID("graphs-period").Text(); !strings.Contains(got, "last 7 min so far") {
		t.Errorf("the period the graphs cover: %q", got)
	}
	for id, scale := range map[string]string{"graph-in": "20 per min", "graph-out": "1 per min", "graph-cache": "5 MiB"} {
		g := doc.ByID(id)
		if g == nil {
			t.Fatalf("no graph %s", id)
		}
		if got := g.All("div", "axis")[0].Text(); got != "1 h ago 30 min ago now" {
			t.Errorf("%s: time axis %q", id, got)
		}
		if got := g.All("div", "scale")[0].Text(); got != scale+" 0" {
			t.Errorf("%s: scale %q, want %q and 0", id, got, scale)
		}
		nodata := g.All("span", "nodata")
		if len(nodata) != 1 || nodata[0].Attr["style"] != "width: 88.3%" || nodata[0].Text() != "no data yet" {
			t.Errorf("%s: the part of the hour before the samples: %+v", id, nodata)
		}
		if svg := g.All("svg", ""); len(svg) != 1 || !strings.Contains(svg[0].Attr["aria-label"], "over the last 7 min") {
			t.Errorf("%s: svg %+v", id, svg)
		}
	}
	if got := doc.ByID("graph-in").All("div", "head")[0].Text(); got != "Messages received per minute now 12 per min" {
		t.Errorf("graph head %q", got)
	}

	// A full hour: no "no data" part, no "so far".
	r.History = History{StepS: 60, BlobsIn: make([]float64, HistoryLen), BlobsOut: make([]float64, HistoryLen), CacheBytes: make([]float64, HistoryLen)}
	doc = renderDoc(t, r)
	if n := len(doc.All("span", "nodata")); n != 0 || doc.ByID("graphs-period") != nil {
		t.Errorf("a full hour shows %d no-data parts and period %v", n, doc.ByID("graphs-period"))
	}
	// A 10 s step: the graphs span 10 minutes and say so.
	r.History.StepS = 10
	doc = renderDoc(t, r)
	if got := doc.ByID("graphs").All("h2", "")[0].Text(); got != "Last 10 min" {
		t.Errorf("10 s step: heading %q", got)
	}
	if got := doc.ByID("graph-in").All("div", "axis")[0].Text(); got != "10 min ago 5 min ago now" {
		t.Errorf("10 s step: axis %q", got)
	}
}

func renderDoc(t *testing.T, r Status) *admintest.Elem {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePage(&buf, &r, ""); err != nil {
		t.Fatal(err)
	}
	return admintest.ParsePage(t, buf.String())
}

func TestHistoryKeepsTheLastHour(t *testing.T) {
	h := NewHistoryRing(time.Minute)
	if v := h.View(); len(v.BlobsIn) != 0 || v.StepS != 60 {
		t.Fatalf("empty history: %+v", v)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		// in grows by i per minute, out by 2 per minute; the cache by 1 kB per minute
		in := int64(i * (i - 1) / 2)
		h.Add(Sample{At: t0.Add(time.Duration(i) * time.Minute), In: in, Out: int64(2 * i), CacheBytes: int64(1000 * i)})
	}
	v := h.View()
	if len(v.BlobsIn) != HistoryLen || len(v.BlobsOut) != HistoryLen || len(v.CacheBytes) != HistoryLen {
		t.Fatalf("%d/%d/%d points, want %d", len(v.BlobsIn), len(v.BlobsOut), len(v.CacheBytes), HistoryLen)
	}
	// The oldest kept sample is number 39; the first rate is from 39 to 40: 39 blobs/min.
	if v.BlobsIn[0] != 39 || v.BlobsIn[HistoryLen-1] != 98 {
		t.Errorf("in rates %v … %v, want 39 … 98", v.BlobsIn[0], v.BlobsIn[HistoryLen-1])
	}
	for _, r := range v.BlobsOut {
		if r != 2 {
			t.Fatalf("out rate %v, want 2", r)
		}
	}
	if v.CacheBytes[0] != 40000 || v.CacheBytes[HistoryLen-1] != 99000 {
		t.Errorf("cache %v … %v", v.CacheBytes[0], v.CacheBytes[HistoryLen-1])
	}

	// A 10 s step reports per-minute rates too; a counter going down counts as 0.
	h = NewHistoryRing(10 * time.Second)
	h.Add(Sample{At: t0, In: 0})
	h.Add(Sample{At: t0.Add(10 * time.Second), In: 5})
	h.Add(Sample{At: t0.Add(20 * time.Second), In: 1})
	if v := h.View(); len(v.BlobsIn) != 2 || v.BlobsIn[0] != 30 || v.BlobsIn[1] != 0 {
		t.Errorf("10 s step: %v, want [30 0]", v.BlobsIn)
	}
}

func TestPlainErrors(t *testing.T) {
	for raw, want := range map[string]string{
		"timeout: no recent network activity":                                      "not answering",
		"dial tcp 192.168.1.20:7788: connect: connection refused":                  "refused: is echorelay running there?",
		"relay fingerprint 0a88ba07a9e5d300 does not match the pin 0f0f0f0f0f0f0f": "the key does not match the pinned fingerprint",
		"not_neighbour": "does not list this relay in its peers file",
		"lookup classroom.lan on 10.0.0.1:53: no such host":       "cannot be found",
		"dial udp 10.0.0.9:7788: connect: network is unreachable": "no network route",
		"unsupported_version":       "protocol version",
		"timeout":                   "stopped answering",
		"something nobody expected": "the connection failed",
	} {
		if got := plainError(raw); !strings.Contains(got, want) {
			t.Errorf("plainError(%q) = %q, want it to say %q", raw, got, want)
		}
	}
	for raw, want := range map[string]string{
		"dial tcp 192.168.1.20:7788: connect: connection refused": "dial tcp …: connect: connection refused",
		"read udp [::1]:4000->[fe80::1%eth0]:7788: i/o timeout":   "read udp …->…: i/o timeout",
		"lookup relay.example.org on 10.0.0.1:53: no such host":   "lookup relay.example.org on …: no such host",
		"at 10:42:07 the link to 2001:db8::7 closed":              "at 10:42:07 the link to … closed",
		"relay fingerprint 0a88ba07a9e5d300 does not match":       "relay fingerprint 0a88ba07a9e5d300 does not match",
	} {
		if got := scrubAddresses(raw); got != want {
			t.Errorf("scrubAddresses(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestNeighbourViews(t *testing.T) {
	now := time.Now()
	fpA, fpB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	fpC := strings.Repeat("c", 64)
	ns := []peers.NeighbourStatus{
		{Peer: "quic://192.168.1.20:7788", Label: "classroom pi", PeerFP: fpA, State: "up", Transport: "quic", Since: now.Add(-time.Hour), BlobsIn: 3, BlobsOut: 4},
		{Peer: "quic://192.168.1.21:7788", State: "backoff", Since: now.Add(-time.Minute), LastError: "dial udp 192.168.1.21:7788: connect: connection refused"},
		{Peer: "tls://192.168.1.22:7788", Label: "library", PeerFP: fpC, State: "backoff", Since: now.Add(-time.Minute), LastError: "timeout: no recent network activity"},
		{Peer: "inbound " + fpA[:16], PeerFP: fpA, State: "up", Inbound: true, Since: now, BlobsIn: 10, BlobsOut: 20},
		{Peer: "inbound " + fpB[:16], PeerFP: fpB, State: "up", Inbound: true, Since: now},
		{Peer: "inbound " + fpC[:16], PeerFP: fpC, State: "up", Inbound: true, Transport: "tls", Since: now.Add(-30 * time.Second), BlobsIn: 1},
	}
	vs := Neighbours(ns, false, now)
	want := []struct {
		name, fp, state string
		links           int
		in, out         int64
	}{
		{"classroom pi", fpA[:16], "up", 2, 13, 24}, // both links, counts summed
		{"neighbour 2", "", "backoff", 0, 0, 0},
		{"library", fpC[:16], "up", 1, 1, 0}, // our dial fails, its dial to us works: connected
		{"inbound relay", fpB[:16], "up", 1, 0, 0},
	}
	if len(vs) != len(want) {
		t.Fatalf("%d views: %+v", len(vs), vs)
	}
	for i, w := range want {
		v := vs[i]
		if v.Peer != w.name || v.Fingerprint != w.fp || v.Address != "" || v.State != w.state || v.Links != w.links || v.BlobsIn != w.in || v.BlobsOut != w.out {
			t.Errorf("view %d: %+v, want %+v and no address", i, v, w)
		}
	}
	if vs[0].ForS != 3600 || vs[0].LastError != "" || vs[3].Inbound != true || vs[0].Inbound {
		t.Errorf("up neighbour: %+v", vs[0])
	}
	if vs[2].LastError != "" || vs[2].ForS != 30 || vs[2].Transport != "tls" {
		t.Errorf("a neighbour up by its own link shows %+v", vs[2])
	}
	if vs[1].LastError != "refused: is echorelay running there?" || vs[1].ErrorDetail != "dial udp …: connect: connection refused" {
		t.Errorf("down neighbour: %q / %q", vs[1].LastError, vs[1].ErrorDetail)
	}
	b, _ := json.Marshal(vs)
	if ips := findIPs(string(b)); len(ips) > 0 {
		t.Errorf("views show addresses %v: %s", ips, b)
	}
	shown := Neighbours(ns, true, now)
	if shown[0].Address != "quic://192.168.1.20:7788" || !strings.Contains(shown[1].ErrorDetail, "192.168.1.21") || shown[3].Address != "" {
		t.Errorf("--admin-show-addresses: %+v", shown[:3])
	}
}

// testReport is a status with every section filled, and traps: a label with markup, raw errors
// holding addresses, counters of every part.
func testReport(t *testing.T) Status {
	t.Helper()
	now := time.Now()
	ns := Neighbours([]peers.NeighbourStatus{
		{Peer: "quic://192.168.1.20:7788", Label: `Mrs <b>Smith</b>'s "pi"`, PeerFP: strings.Repeat("c", 64), State: "up", Transport: "quic", Since: now.Add(-90 * time.Minute), BlobsIn: 1234, BlobsOut: 56},
		{Peer: "tls://[2001:db8::20]:7788", State: "backoff", Since: now.Add(-time.Minute), DownSince: now.Add(-25 * time.Minute), LastError: "read tcp [2001:db8::1]:5000->[2001:db8::20]:7788: i/o timeout"},
	}, false, now)
	return Status{
		Name: "school relay", Version: "v1.2.3", Fingerprint: strings.Repeat("d", 64), Port: 7788, UptimeS: 4000,
		Neighbours: ns, NeighboursUp: 1,
		Cache:    Cache{Blobs: 41, Bytes: 600 << 20, MaxBytes: 1 << 30, Evicted: 2, Swept: 3},
		Received: 120, Stored: 100, Duplicates: 20, Relayed: 300, QueueDrops: 1,
		Rejects:   map[string]int64{"too_large": 2, "expired": 0, "stamp_required": 5},
		Limits:    Limits{MaxBlob: 2 << 20, MaxTTLS: 2592000, MaxSkewS: 600},
		History:   History{StepS: 60, BlobsIn: []float64{1, 2, 3}, BlobsOut: []float64{0, 4, 1}, CacheBytes: []float64{1e6, 2e6, 3e6}},
		Reconcile: peers.ReconcileStats{Sessions: 4, BytesOut: 1500},
		Echo:      map[string]int64{"messages_in": 9},
		Abuse:     Abuse{AbuseStats: peers.AbuseStats{RefusedPerIP: 3, ClosesByReason: map[string]int64{"timeout": 2, "malformed": 1}}, StampRejected: 5},
	}
}

// The other counters list every part's counters by key, sorted, and survive the JSON that
// `echorelay status` decodes into the same Status.
func TestCountersOfEveryPart(t *testing.T) {
	r := testReport(t)
	cs := r.Counters()
	byKey := map[string]Counter{}
	for i, c := range cs {
		if i > 0 && cs[i-1].Key >= c.Key {
			t.Errorf("counters not sorted: %q before %q", cs[i-1].Key, c.Key)
		}
		byKey[c.Key] = c
	}
	for key, want := range map[string]float64{"abuse_refused_per_ip": 3, "abuse_stamp_rejected": 5, "reconcile_sessions": 4, "reconcile_bytes_out": 1500, "echo_messages_in": 9} {
		if c, ok := byKey[key]; !ok || c.Value != want || c.Labels != nil {
			t.Errorf("counter %s: %+v, want %v", key, c, want)
		}
	}
	if c := byKey["abuse_closes_by_reason"]; c.Labels["timeout"] != 2 || c.Labels["malformed"] != 1 {
		t.Errorf("closes by reason: %+v", c)
	}
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Counters(); !reflect.DeepEqual(got, cs) {
		t.Errorf("counters after JSON:\n%+v\nwant\n%+v", got, cs)
	}
	if back.Configured() != 2 || back.Received != 120 || back.Cache.MaxBytes != 1<<30 || back.Abuse.RefusedPerIP != 3 || back.Neighbours[1].LastError == "" {
		t.Errorf("status after JSON: %+v", back)
	}
	if v, tone := back.Verdict(); tone != "warn" || !strings.Contains(v, "not connected to 1 of 2 neighbours") {
		t.Errorf("verdict %q (%s)", v, tone)
	}
	// The JSON keeps the names `echorelay status` and scrapers read.
	var keys map[string]json.RawMessage
	json.Unmarshal(b, &keys)
	for _, k := range []string{"name", "version", "fingerprint", "port", "pid", "uptime_s", "started", "now", "neighbours", "neighbours_up", "cache",
		"blobs_received", "blobs_stored", "blobs_duplicate", "blobs_relayed", "queue_drops", "rejects", "limits", "reconcile", "echo", "abuse", "peers_file", "history"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("/status lacks %q", k)
		}
	}
	var abuse map[string]any
	json.Unmarshal(keys["abuse"], &abuse)
	if abuse["refused_per_ip"] != 3.0 || abuse["stamp_rejected"] != 5.0 || abuse["closes_by_reason"] == nil {
		t.Errorf("abuse block %v", abuse)
	}
}

// Failed deferred fsyncs (--fsync-every) come first in the verdict: the operator must hear
// about a failing card before anything else.
func TestVerdictDiskTrouble(t *testing.T) {
	r := testReport(t)
	if r.Cache.SyncFailures != 0 {
		t.Fatalf("test report has sync failures: %+v", r.Cache)
	}
	r.Cache.SyncFailures, r.Cache.LogSyncs = 3, 40
	if v, tone := r.Verdict(); tone != "warn" || !strings.Contains(v, "saving to disk failed 3 times") || !strings.Contains(v, "SD card") {
		t.Errorf("verdict %q (%s)", v, tone)
	}
	var buf bytes.Buffer
	if err := WritePage(&buf, &r, ""); err != nil {
		t.Fatal(err)
	}
	if got := admintest.ParsePage(t, buf.String()).ByID("verdict").Text(); !strings.Contains(got, "Disk trouble") {
		t.Errorf("page verdict %q", got)
	}
}

// The cache section says how durable an acknowledgement is: on disk before it by default, or
// within --fsync-every.
func TestStatusPageDurability(t *testing.T) {
	r := testReport(t)
	for _, c := range []struct {
		ms   int64
		want string
	}{
		{0, "Every message is saved to the SD card before the relay confirms it."},
		{1500, "Messages are saved to the card within 2 s of arriving (--fsync-every): a power cut can lose the last 2 s."},
		{30000, "Messages are saved to the card within 30 s of arriving (--fsync-every): a power cut can lose the last 30 s."},
	} {
		r.Cache.FsyncEveryMs = c.ms
		var buf bytes.Buffer
		if err := WritePage(&buf, &r, ""); err != nil {
			t.Fatal(err)
		}
		if got := admintest.ParsePage(t, buf.String()).ByID("durability").Text(); got != c.want {
			t.Errorf("fsync_every_ms %d: %q, want %q", c.ms, got, c.want)
		}
	}
}

func TestStatusPageRenders(t *testing.T) {
	r := testReport(t)
	var buf bytes.Buffer
	if err := WritePage(&buf, &r, "?token=t0k"); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	doc := admintest.ParsePage(t, page)

	if got := doc.TextOf("h1"); got != "school relay" {
		t.Errorf("h1 %q", got)
	}
	if got := doc.TextOf("title"); !strings.Contains(got, "school relay") {
		t.Errorf("title %q", got)
	}
	rows := doc.All("tr", "neighbour")
	if len(rows) != 2 {
		t.Fatalf("%d neighbour rows in table#neighbours, want 2", len(rows))
	}
	if !doc.Has("table", "neighbours") {
		t.Error("no table with id neighbours")
	}
	if got := rows[0].Text(); !strings.Contains(got, `Mrs <b>Smith</b>'s "pi"`) || !strings.Contains(got, "connected") || !strings.Contains(got, "1 h 30 min") || !strings.HasSuffix(got, "1 234 56") {
		t.Errorf("first neighbour row: %q", got)
	}
	if got := rows[1].Text(); !strings.Contains(got, "neighbour 2") || !strings.Contains(got, "not reachable since") || !strings.Contains(got, "(25 min)") || !strings.Contains(got, "Not answering") {
		t.Errorf("second neighbour row: %q", got)
	}
	if got := doc.ByID("verdict").Text(); !strings.Contains(got, "not connected to 1 of 2 neighbours") {
		t.Errorf("verdict %q", got)
	}
	if got := doc.ByID("cache-size").Text(); !strings.Contains(got, "600 MiB of 1 GiB used (58.6 %)") || !strings.Contains(got, "41 messages waiting") {
		t.Errorf("cache %q", got)
	}
	if bar := doc.Find(func(e *admintest.Elem) bool { return e.Attr["role"] == "meter" }); bar == nil || len(bar.Kids) != 1 || bar.Kids[0].Attr["style"] != "width: 58.6%" {
		t.Errorf("cache bar: %+v", bar)
	}
	if n := len(doc.All("svg", "")); n != 3 {
		t.Errorf("%d sparklines, want 3", n)
	}
	rej := doc.ByID("rejects").Text()
	if !strings.Contains(rej, "missing proof of work5") || !strings.Contains(rej, "too large2") || strings.Contains(rej, "expired") {
		t.Errorf("rejects %q", rej)
	}
	if other := doc.ByID("other").Text(); !strings.Contains(other, "reconcile_sessions4") || !strings.Contains(other, "abuse_refused_per_ip3") || !strings.Contains(other, "abuse_closes_by_reason: timeout2") {
		t.Errorf("other counters %q", other)
	}
	if links := doc.All("a", ""); len(links) != 2 || links[0].Attr["href"] != "/status?token=t0k" || links[1].Attr["href"] != "/metrics?token=t0k" {
		t.Errorf("links %+v", links)
	}
	if ips := findIPs(page); len(ips) > 0 {
		t.Errorf("the page shows IP addresses %v", ips)
	}
	for _, bad := range []string{"<script", "http://", "https://", "<link", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q: it must work offline and without scripts", bad)
		}
	}

	// No neighbours: a sentence instead of the table, the idle verdict.
	var empty Status
	empty.Name = "lonely"
	buf.Reset()
	if err := WritePage(&buf, &empty, ""); err != nil {
		t.Fatal(err)
	}
	doc = admintest.ParsePage(t, buf.String())
	if doc.Has("table", "neighbours") || doc.ByID("no-neighbours") == nil || !strings.Contains(doc.ByID("verdict").Text(), "no neighbours") {
		t.Errorf("empty page:\n%s", buf.String())
	}
}

// Every string the page shows from the report is escaped, in text and in attributes: a relay
// name, a neighbour label, an error text, a reject reason, counter names and the token query
// with markup, quotes and & come out as the same characters and never as elements.
// reportOf is m as `echorelay status` reads it: through JSON, into a Status.
func reportOf(t *testing.T, m map[string]any) Status {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var r Status
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStatusPageEscapesEverything(t *testing.T) {
	const evil = `<script>alert("&amp;'x'")</script>&<b>`
	m := map[string]any{
		"name": evil + "name", "version": evil + "version", "fingerprint": evil,
		"neighbours": []map[string]any{{
			"peer": evil + "label", "address": evil + "addr", "fingerprint": evil + "fp", "state": evil + "state",
			"inbound": true, "since": time.Now(), "for_s": 5, "last_error": evil + "err", "error_detail": evil + "detail",
		}},
		"rejects":       map[string]int64{evil + "reason": 1},
		"echo":          map[string]int64{evil + "top": 4},
		"abuse":         map[string]any{"closes_by_reason": map[string]int{evil + "sub": 2}},
		"neighbours_up": 0,
	}
	r := reportOf(t, m)
	query := "?token=" + evil
	var buf bytes.Buffer
	if err := WritePage(&buf, &r, query); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, "<script") || strings.Contains(page, "<b>") {
		t.Fatalf("markup from the report reached the page:\n%s", page)
	}
	doc := admintest.ParsePage(t, page)
	allowed := map[string]bool{}
	for _, n := range strings.Fields("html head meta title style body main header h1 h2 p section table thead tbody tr th td strong span div time code svg line polygon polyline details summary footer br a") {
		allowed[n] = true
	}
	doc.Walk(func(e *admintest.Elem) {
		if e.Name != "" && !allowed[e.Name] {
			t.Errorf("element <%s> on the page", e.Name)
		}
	})
	for _, c := range []struct{ what, got, want string }{
		{"h1", doc.TextOf("h1"), evil + "name"},
		{"title", doc.TextOf("title"), evil + "name · echorelay"},
		{"relay-info", doc.ByID("relay-info").Text(), "echorelay " + evil + "version"},
		{"neighbour name", doc.All("strong", "name")[0].Text(), evil + "label"},
		{"neighbour row class", doc.All("tr", "neighbour")[0].Attr["class"], "neighbour " + evil + "state"},
		{"dot class", doc.All("span", "dot")[0].Attr["class"], "dot " + evil + "state"},
		{"state", doc.All("span", "state")[0].Text(), evil + "state"},
		{"error", doc.All("div", "err")[0].Text(), evil + "err"},
		{"JSON link", doc.All("a", "")[0].Attr["href"], "/status" + query},
		{"metrics link", doc.All("a", "")[1].Attr["href"], "/metrics" + query},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%s: %q, want it to contain %q", c.what, c.got, c.want)
		}
	}
	row := doc.All("tr", "neighbour")[0].Text()
	for _, want := range []string{evil + "fp", evil + "addr", evil + "detail"} {
		if !strings.Contains(row, want) {
			t.Errorf("neighbour row %q lacks %q", row, want)
		}
	}
	if got := doc.ByID("rejects").Text(); !strings.Contains(got, evil+"reason1") {
		t.Errorf("rejects %q", got)
	}
	if got := doc.ByID("other").Text(); !strings.Contains(got, "echo_"+evil+"top4") || !strings.Contains(got, "abuse_closes_by_reason: "+evil+"sub2") {
		t.Errorf("other counters %q", got)
	}
}

func wellFormed(s string) error {
	_, err := admintest.ParseMarkup(s)
	return err
}

func TestHumanUnits(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 1 << 30: "1.0 GiB", 5 << 40: "5.0 TiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for s, want := range map[int64]string{-5: "0 s", 59: "59 s", 61: "1 min 1 s", 3600: "1 h 0 min", 90061: "1 d 1 h"} {
		if got := humanDuration(s); got != want {
			t.Errorf("humanDuration(%d) = %q, want %q", s, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1\u202f000", -1234567: "-1\u202f234\u202f567"} {
		if got := humanCount(n); got != want {
			t.Errorf("humanCount(%d) = %q, want %q", n, got, want)
		}
	}
	if got := textBar(50, 10); got != "[#####-----]" {
		t.Errorf("textBar(50) = %q", got)
	}
	if got := textBar(0.01, 10); got != "[#---------]" {
		t.Errorf("textBar(0.01) = %q: a used cache shows at least one mark", got)
	}
}

func BenchmarkStatusPage(b *testing.B) {
	r := testReport(&testing.T{})
	for b.Loop() {
		WritePage(io.Discard, &r, "")
	}
}

func BenchmarkMetrics(b *testing.B) {
	r := testReport(&testing.T{})
	for b.Loop() {
		WriteMetrics(io.Discard, &r)
	}
}

// A clock that was never set, or many blobs refused for their expiry, put the clock in the
// verdict: a Raspberry Pi without network time may boot in 1970 and refuse everything.
func TestVerdictClock(t *testing.T) {
	now := "2026-11-23T10:00:00Z"
	for _, c := range []struct {
		name     string
		status   map[string]any
		want     string // "" = the neighbours verdict stands
		received int64
	}{
		{"never set", map[string]any{"now": "1970-01-01T00:03:00Z"}, "Clock wrong: this computer says it is 1970-01-01 00:03", 120},
		{"expiry refusals", map[string]any{"now": now, "rejects": map[string]any{"too_far_future": 30, "expired": 2}}, "Many messages refused for their expiry (30 too far ahead, 2 already expired)", 120},
		{"a few stale blobs", map[string]any{"now": now, "rejects": map[string]any{"too_far_future": 3, "expired": 30}}, "", 1000},
		{"an older relay without now", map[string]any{}, "", 120},
	} {
		d := reportOf(t, c.status)
		r := testReport(t)
		r.Now, r.Rejects, r.Received = d.Now, d.Rejects, c.received
		v, tone := r.Verdict()
		if c.want == "" {
			if !strings.Contains(v, "not connected to 1 of 2 neighbours") {
				t.Errorf("%s: verdict %q, want the neighbours one", c.name, v)
			}
			continue
		}
		if tone != "warn" || !strings.Contains(v, c.want) {
			t.Errorf("%s: verdict %q (%s), want %q", c.name, v, tone, c.want)
		}
	}
}

// The top of the page speaks to a teacher (issue #18 item 13): whether the relay works, what it
// does, the relay ID explained; keys, raw errors and raw counters only in <details>, closed.
func TestStatusPagePlainWordsFirst(t *testing.T) {
	r := testReport(t)
	r.Limits.MaxTTLS = 30 * 86400
	doc := renderDoc(t, r)
	header := doc.TextOf("header")
	for _, want := range []string{
		"Working, but not connected to 1 of 2 neighbours",
		"passes locked (end-to-end encrypted) messages", "for up to 30 days", "It cannot read them",
		"Running for 1 h 6 min. Since it started: 120 messages received, 300 message copies passed on to neighbours.",
		"Relay ID (give it to neighbours who link to you): dddddddddddddddd…", "echorelay fingerprint on the relay prints it whole",
	} {
		if !strings.Contains(header, want) {
			t.Errorf("the top of the page lacks %q:\n%s", want, header)
		}
	}
	// Outside <details> the page says "message", never "blob"; no key, raw error or transport.
	var plain strings.Builder
	var visible func(e *admintest.Elem)
	visible = func(e *admintest.Elem) {
		if e.Name == "details" || e.Name == "style" || e.Name == "title" || e.Name == "svg" {
			return
		}
		for _, x := range e.Body {
			switch v := x.(type) {
			case string:
				plain.WriteString(v)
			case *admintest.Elem:
				visible(v)
			}
		}
	}
	visible(doc)
	for _, bad := range []string{"blob", "key ", "cccccccc", "i/o timeout", "…->…", "quic", "acknowledged", "conns_refused", "abuse_"} {
		if strings.Contains(strings.ToLower(plain.String()), bad) {
			t.Errorf("the page shows %q outside its details:\n%s", bad, plain.String())
		}
	}
	details := doc.All("details", "")
	if len(details) < 5 { // one per neighbour, storage, refused, counters, more counters
		t.Errorf("%d <details>, want one per neighbour and one per technical section", len(details))
	}
	for _, d := range details {
		if _, open := d.Attr["open"]; open {
			t.Errorf("a <details> is open by default: %s", d.Text())
		}
		if s := d.TextOf("summary"); !strings.HasPrefix(s, "Details") {
			t.Errorf("a <details> summary is %q, want it to start with Details", s)
		}
	}
	row := doc.All("tr", "neighbour")[1]
	if got := row.TextOf("details"); !strings.Contains(got, "last error: read tcp …->…: i/o timeout") {
		t.Errorf("the raw error is not in the neighbour's details: %q", got)
	}
	if got := doc.All("tr", "neighbour")[0].TextOf("details"); !strings.Contains(got, "key (relay ID) cccccccccccccccc…") || !strings.Contains(got, "transport quic") {
		t.Errorf("the key is not in the neighbour's details: %q", got)
	}
	if th := doc.All("th", ""); len(th) != 3 || th[1].Text() != "Received since connected" || th[2].Text() != "Sent since connected" {
		t.Errorf("neighbour table head %+v", th)
	}
	if got := doc.ByID("inout-note").Text(); !strings.Contains(got, "start again from 0 when a neighbour reconnects") {
		t.Errorf("in/out note %q", got)
	}
	if got := doc.ByID("rejects").All("p", "sub")[0].Text(); got != "7 messages refused since the start; most often: missing proof of work." {
		t.Errorf("refused summary %q", got)
	}
}

// No number on the page or in `echorelay status --all` is in exponent notation; sizes are in
// KiB/MiB, rates per second say so.
func TestNoExponentNotation(t *testing.T) {
	r := testReport(t)
	r.Abuse.BytesPerSec, r.Abuse.SubmitsPerSec, r.Reconcile.BytesOut = 2097152, 0.5, 1.5e9
	r.Abuse.ClosesByReason = map[string]int64{"x": 4e6}
	r.Echo = map[string]int64{"huge": 3e18}
	r.History.CacheBytes = []float64{1e9, 2e9, 3.5e9}
	r.History.BlobsIn = []float64{1e6, 2.5e7, 0.1}
	var buf bytes.Buffer
	if err := WritePage(&buf, &r, ""); err != nil {
		t.Fatal(err)
	}
	var term strings.Builder
	WriteText(&term, &r, true)
	exp := regexp.MustCompile(`\d[eE][+-]?\d`)
	for what, text := range map[string]string{"page": buf.String(), "echorelay status --all": term.String()} {
		if m := exp.FindString(text); m != "" || strings.Contains(text, "e+0") {
			t.Errorf("%s shows a number in exponent notation (%q):\n%s", what, m, text)
		}
		for _, want := range []string{"2 MiB per second", "0.5 per second", "1.4 GiB", "4" + "\u202f" + "000" + "\u202f" + "000"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", what, want)
			}
		}
	}
	for v, want := range map[float64]string{2097152: "2\u202f097\u202f152", 0.5: "0.5", 1.0 / 3: "0.33", 3e21: "3000000000000000000000", 1e-7: "0"} {
		if got := humanNumber(v); got != want {
			t.Errorf("humanNumber(%v) = %q, want %q", v, got, want)
		}
	}
}

// A neighbour that keeps failing shows since when it is unreachable, counted from the last time
// it was up, not from the latest retry (the dialer keeps DownSince across retries).
func TestNeighbourUnreachableSince(t *testing.T) {
	now := time.Date(2026, 3, 9, 14, 27, 0, 0, time.Local)
	down := time.Date(2026, 3, 9, 14, 2, 0, 0, time.Local)
	ns := []peers.NeighbourStatus{
		{Peer: "quic://192.168.1.21:7788", Label: "library", State: "connecting", Since: now.Add(-3 * time.Second), DownSince: down, LastError: "context deadline exceeded"},
		{Peer: "quic://192.168.1.22:7788", Label: "new", State: "connecting", Since: now.Add(-3 * time.Second), DownSince: now.Add(-3 * time.Second)},
		{Peer: "quic://192.168.1.23:7788", Label: "hall", State: "backoff", Since: now.Add(-time.Second), DownSince: now.Add(-50 * time.Hour), LastError: "timeout: no recent network activity"},
		{Peer: "quic://192.168.1.24:7788", Label: "up", State: "up", Since: now.Add(-time.Hour)},
	}
	vs := Neighbours(ns, false, now)
	if vs[0].DownForS != 25*60 || vs[0].ForS != 3 || !vs[0].DownSince.Equal(down) {
		t.Fatalf("view %+v", vs[0])
	}
	for i, want := range []string{"not reachable since 14:02 (25 min)", "connecting for 3 s", "not reachable since 7 Mar 12:27 (2 days 2 h)", "connected for 1 h 0 min"} {
		if got := stateLine(vs[i], now); got != want {
			t.Errorf("neighbour %d: %q, want %q", i, got, want)
		}
	}
	if vs[0].LastError != "not answering: it may be switched off, asleep or behind a firewall" || vs[0].ErrorDetail != "context deadline exceeded" {
		t.Errorf("error %q / %q", vs[0].LastError, vs[0].ErrorDetail)
	}

	r := testReport(t)
	r.Now, r.Neighbours = now.UTC(), vs
	doc := renderDoc(t, r)
	if got := doc.All("tr", "neighbour")[0].Text(); !strings.Contains(got, "not reachable since 14:02 (25 min)") || !strings.Contains(got, "Not answering") {
		t.Errorf("row %q", got)
	}
	var term strings.Builder
	WriteText(&term, &r, false)
	for _, want := range []string{"not reachable since 14:02 (25 min)", "! Not answering", "connecting for 3 s", "since the neighbour connected",
		"Relay ID (key dddddddddddddddd…)", "Every message is saved to the SD card", "messages received 120"} {
		if !strings.Contains(term.String(), want) {
			t.Errorf("`echorelay status` lacks %q:\n%s", want, term.String())
		}
	}
	b, _ := json.Marshal(vs[3])
	if strings.Contains(string(b), "down_since") {
		t.Errorf("an up neighbour has a down_since: %s", b)
	}
}

// Every raw error the dialer and links report is said in plain words, not "the connection failed".
func TestPlainErrorsCoverRawGoErrors(t *testing.T) {
	for _, raw := range []string{
		"context deadline exceeded", "timeout: no recent network activity", "timeout: handshake did not complete in time",
		"CRYPTO_ERROR 0x12a (remote): tls: bad certificate", "tls: first record does not look like a TLS handshake",
		"x509: certificate signed by unknown authority", "remote error: tls: handshake failure",
		"dial tcp 10.0.0.2:7788: connect: connection refused", "read tcp 10.0.0.1:1->10.0.0.2:7788: read: connection reset by peer",
		"write: broken pipe", "EOF", "peer_close", "local_close", "io_error", "truncated", "write_timeout", "duplicate_link",
		"context canceled", "use of closed network connection", "lookup x: Temporary failure in name resolution",
	} {
		if got := plainError(raw); strings.Contains(got, "the connection failed (see") {
			t.Errorf("plainError(%q) = %q: no plain sentence", raw, got)
		}
	}
}
