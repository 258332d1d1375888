package admin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/echorelay/echorelay/internal/admin/admintest"
)

// The strict reader of the exposition format is shared with cmd/echorelay (admintest).
type promFamily = admintest.Family

var parseExposition = admintest.ParseExposition

func metric(t *testing.T, fams map[string]*promFamily, name, labels string) float64 {
	t.Helper()
	return admintest.Metric(t, fams, name, labels)
}

func TestMetricsFormat(t *testing.T) {
	r := testReport(t)
	var buf bytes.Buffer
	if err := WriteMetrics(&buf, &r); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	fams, err := parseExposition(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"echorelay_info", `{name="school relay",version="v1.2.3"}`, 1},
		{"echorelay_uptime_seconds", "", 4000},
		{"echorelay_neighbours_up", "", 1},
		{"echorelay_neighbours_configured", "", 2},
		{"echorelay_neighbour_up", `{link="dialed",neighbour="Mrs <b>Smith</b>'s \"pi\""}`, 1},
		{"echorelay_neighbour_up", `{link="dialed",neighbour="neighbour 2"}`, 0},
		{"echorelay_neighbour_blobs_in_total", `{link="dialed",neighbour="Mrs <b>Smith</b>'s \"pi\""}`, 1234},
		{"echorelay_cache_bytes", "", 600 << 20},
		{"echorelay_cache_max_bytes", "", 1 << 30},
		{"echorelay_blobs_received_total", "", 120},
		{"echorelay_blobs_relayed_total", "", 300},
		{"echorelay_queue_drops_total", "", 1},
		{"echorelay_blobs_rejected_total", `{reason="too_large"}`, 2},
		{"echorelay_blobs_rejected_total", `{reason="expired"}`, 0},
		{"echorelay_abuse_refused_per_ip", "", 3},
		{"echorelay_reconcile_sessions", "", 4},
		{"echorelay_echo_messages_in", "", 9},
		{"echorelay_abuse_closes_by_reason", `{key="malformed"}`, 1},
	} {
		if got := metric(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%s = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if fams["echorelay_blobs_rejected_total"].Type != "counter" || fams["echorelay_cache_bytes"].Type != "gauge" {
		t.Error("wrong types")
	}
	if ips := findIPs(text); len(ips) > 0 {
		t.Errorf("metrics show addresses %v", ips)
	}

	// Two neighbours with the same label still make distinct series.
	r.Neighbours = append(r.Neighbours, r.Neighbours[0])
	buf.Reset()
	WriteMetrics(&buf, &r)
	if _, err := parseExposition(buf.String()); err != nil {
		t.Fatalf("duplicate labels: %v\n%s", err, buf.String())
	}
}

// The parser must catch what it is there to catch.
func TestExpositionParserRejects(t *testing.T) {
	good := "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n"
	if _, err := parseExposition(good); err != nil {
		t.Fatalf("good text: %v", err)
	}
	for name, bad := range map[string]string{
		"no newline":        strings.TrimSuffix(good, "\n"),
		"no type":           "# HELP a A.\na 1\n",
		"counter name":      "# HELP a A.\n# TYPE a counter\na 1\n",
		"bad escape":        "# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",
		"repeated series":   "# HELP a A.\n# TYPE a gauge\na 1\na 2\n",
		"bad value":         "# HELP a A.\n# TYPE a gauge\na one\n",
		"split family":      "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\n# HELP a A.\n",
		"unterminated":      "# HELP a A.\n# TYPE a gauge\na{x=\"1} 1\n",
		"bad label name":    "# HELP a A.\n# TYPE a gauge\na{1x=\"1\"} 1\n",
		"type after sample": "# HELP a A.\na 1\n# TYPE a gauge\n",
	} {
		if _, err := parseExposition(bad); err == nil {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}
