package admin

// The status page as HTML, written by plain Go code rather than html/template: text/template
// looks methods up by name through reflect, which makes the linker keep every exported method of
// every reachable type (megabytes on arm64). The price is that escaping is done by hand here, so
// every rule below holds without exception:
//
//   - every string that comes from the report (relay name, neighbour labels, errors, reasons,
//     counter names) goes through esc, in text and in attribute values alike;
//   - every attribute value is written inside double quotes, which esc escapes;
//   - the only markup not built here is the graphs' SVG (graph.go), which escapes its label
//     and writes numbers only.
//
// The page is well-formed XHTML-compatible markup (the tests parse it with encoding/xml), has no
// scripts and no outside requests, and the CSS is status.css, embedded.

import (
	_ "embed"
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed status.css
var statusCSS string

// esc escapes s for HTML text and for double-quoted attribute values: & < > " '.
func esc(s string) string { return html.EscapeString(s) }

// WritePage writes the status page of r. query ("" or "?token=…") is appended to the page's
// own links, so that a LAN page keeps its token.
func WritePage(w io.Writer, r *Status, query string) error {
	verdict, tone := r.Verdict()
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	pct := r.cachePercent()
	bar := pct
	if r.Cache.Bytes > 0 {
		bar = max(bar, 0.5) // a used cache shows at least a sliver
	}
	count := func(n int64) string { return esc(humanCount(n)) }

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
	p("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
	p("<meta name=\"color-scheme\" content=\"light dark\"/>\n<meta http-equiv=\"refresh\" content=\"30\"/>\n")
	p("<title>%s · echorelay</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<header>\n", esc(r.Name), statusCSS)

	// Plain words first: does it work, what does it do, what to tell a neighbour.
	p("<h1 id=\"relay-name\">%s</h1>\n", esc(r.Name))
	p("<p class=\"verdict %s\" id=\"verdict\">%s</p>\n", esc(tone), esc(verdict))
	p("<p id=\"what\">%s</p>\n", esc(r.whatItDoes()))
	p("<p id=\"summary\">Running for %s. Since it started: %s received, %s passed on to neighbours.</p>\n",
		esc(humanDuration(r.UptimeS)), esc(plural64(r.Received, "message", "messages")), esc(plural64(r.Relayed, "message copy", "message copies")))
	if r.Fingerprint != "" {
		p("<p id=\"relay-id\">Relay ID (give it to neighbours who link to you): <code>%s…</code> <span class=\"detail\">· <code>echorelay fingerprint</code> on the relay prints it whole</span></p>\n",
			esc(fmt.Sprintf("%.16s", r.Fingerprint)))
	}
	p("<p class=\"sub\" id=\"relay-info\">echorelay %s</p>\n</header>\n\n", esc(r.Version))

	p("<section id=\"neighbours-section\">\n<h2>Neighbours</h2>\n<p class=\"sub\">Other relays this one swaps messages with.</p>")
	if len(r.Neighbours) > 0 {
		p("\n<table id=\"neighbours\">\n<thead><tr><th>Neighbour</th><th class=\"n\">Received <div class=\"detail\">since connected</div></th><th class=\"n\">Sent <div class=\"detail\">since connected</div></th></tr></thead>\n<tbody>")
		for _, n := range r.Neighbours {
			p("\n<tr class=\"neighbour %s\">\n<td><strong class=\"name\">%s</strong>", esc(n.State), esc(n.Peer))
			if n.Inbound {
				p(" <span class=\"detail\">(it linked to us)</span>")
			}
			p("\n<div><span class=\"dot %s\"></span><span class=\"state\">%s</span></div>", esc(n.State), esc(stateLine(n, now)))
			if n.LastError != "" {
				p("<div class=\"err\">%s</div>", esc(upperFirst(n.LastError)))
			}
			p("\n<details><summary>Details</summary><div class=\"detail\">")
			var d []string
			if n.Fingerprint != "" {
				d = append(d, "key (relay ID) "+esc(n.Fingerprint)+"…")
			}
			if n.Address != "" {
				d = append(d, "address "+esc(n.Address))
			}
			if n.Transport != "" {
				d = append(d, "transport "+esc(n.Transport))
			}
			d = append(d, fmt.Sprintf("state %s since <time datetime=\"%s\">%s UTC</time>", esc(n.State),
				esc(n.Since.Format("2006-01-02T15:04:05Z07:00")), esc(n.Since.Format("2006-01-02 15:04:05"))))
			if n.ErrorDetail != "" {
				d = append(d, "last error: "+esc(n.ErrorDetail))
			}
			p("%s</div></details>", strings.Join(d, "<br/>"))
			p("</td>\n<td class=\"n\">%s</td>\n<td class=\"n\">%s</td>\n</tr>", count(n.BlobsIn), count(n.BlobsOut))
		}
		p("\n</tbody>\n</table>\n<p class=\"detail\" id=\"inout-note\">Received and sent count the messages on the connection open now: they start again from 0 when a neighbour reconnects.</p>")
	} else {
		p("\n<p class=\"sub\" id=\"no-neighbours\">No neighbours yet. Add them to the peers file, one <code>host:port</code> per line, then reload the relay.</p>")
	}
	p("\n</section>\n\n")

	full := ""
	if pct >= 90 {
		full = " full"
	}
	p("<section id=\"cache\">\n<h2>Storage</h2>\n")
	p("<div class=\"bar%s\" role=\"meter\" aria-label=\"storage used\" aria-valuemin=\"0\" aria-valuemax=\"100\" aria-valuenow=\"%.1f\"><div style=\"width: %.1f%%\"></div></div>\n", full, pct, bar)
	p("<p class=\"sub\" id=\"cache-size\"><strong>%s</strong> of %s used (%.1f %%) · %s waiting to be picked up</p>\n",
		esc(shortBytes(r.Cache.Bytes)), esc(shortBytes(r.Cache.MaxBytes)), pct, esc(plural64(r.Cache.Blobs, "message", "messages")))
	p("<p id=\"durability\">%s</p>\n", esc(r.durabilityWords()))
	p("<details><summary>Details</summary><p class=\"detail\">Removed when they expired: %s · removed early to make room: %s · saves to disk: %s · failed saves: %s</p></details>\n",
		count(r.Cache.Swept), count(r.Cache.Evicted), count(r.Cache.LogSyncs), count(r.Cache.SyncFailures))
	p("</section>\n\n")

	h := r.History
	step := time.Duration(h.StepS * float64(time.Second))
	if step <= 0 {
		step = time.Minute
	}
	window := step * HistoryLen
	title := "Last " + roughDuration(window)
	if window == time.Hour {
		title = "Last hour"
	}
	p("<section id=\"graphs\">\n<h2>%s</h2>\n", esc(title))
	switch covered := step * time.Duration(len(h.BlobsIn)); {
	case len(h.BlobsIn) == 0:
		p("<p class=\"sub\" id=\"graphs-period\">Nothing measured yet: the graphs fill in as the relay runs.</p>\n")
	case covered < window:
		p("<p class=\"sub\" id=\"graphs-period\">Measured for the last %s so far; the graphs fill in from the right.</p>\n", esc(roughDuration(covered)))
	}
	lastRate := func(v []float64) string {
		if len(v) == 0 {
			return ""
		}
		return "now " + perMinute(lastValue(v))
	}
	b.WriteString(graph{id: "graph-in", title: "Messages received per minute", now: lastRate(h.BlobsIn), values: h.BlobsIn, step: step, span: HistoryLen, unit: perMinute}.html())
	b.WriteString(graph{id: "graph-out", title: "Messages passed on per minute", now: lastRate(h.BlobsOut), values: h.BlobsOut, step: step, span: HistoryLen, unit: perMinute}.html())
	b.WriteString(graph{id: "graph-cache", title: "Storage used", now: shortBytes(r.Cache.Bytes), values: h.CacheBytes, step: step, span: HistoryLen, bytes: true,
		unit: func(v float64) string { return shortBytes(int64(v)) }}.html())
	p("<p class=\"detail\">One point every %s. Received: from devices and neighbours; passed on: copies sent to neighbours.</p>\n</section>\n\n", esc(stepWords(step)))

	rows := r.rejectRows()
	var refused int64
	for _, x := range rows {
		refused += x.Count
	}
	p("<section id=\"rejects\">\n<h2>Refused</h2>")
	if len(rows) > 0 {
		p("\n<p class=\"sub\">%s refused since the start; most often: %s.</p>", esc(plural64(refused, "message", "messages")), esc(reasonWords(rows[0].Reason)))
		p("\n<details><summary>Details</summary>\n<table class=\"kv\">")
		for _, x := range rows {
			p("\n<tr><td>%s</td><td class=\"n\">%s</td></tr>", esc(reasonWords(x.Reason)), count(x.Count))
		}
		p("\n</table>\n</details>")
	} else {
		p("\n<p class=\"sub\">Nothing refused.</p>")
	}
	p("\n</section>\n\n")

	p("<section id=\"counters\">\n<details>\n<summary><strong>Details: counters since start</strong> <span class=\"detail\">(a message is a “blob” in the technical texts)</span></summary>\n<table class=\"kv\">\n")
	p("<tr><td>blobs received</td><td class=\"n\" id=\"blobs-received\">%s</td></tr>\n", count(r.Received))
	p("<tr><td>new, kept in storage</td><td class=\"n\">%s</td></tr>\n", count(r.Stored))
	p("<tr><td>already had (duplicates)</td><td class=\"n\">%s</td></tr>\n", count(r.Duplicates))
	p("<tr><td>passed on to neighbours</td><td class=\"n\">%s</td></tr>\n", count(r.Relayed))
	p("<tr><td>not passed on: a neighbour was too slow</td><td class=\"n\">%s</td></tr>\n", count(r.QueueDrops))
	if r.Limits.MaxBlob > 0 {
		p("<tr><td>largest message accepted</td><td class=\"n\">%s</td></tr>\n", esc(shortBytes(r.Limits.MaxBlob)))
	}
	p("</table>\n</details>\n</section>")

	if extra := r.Counters(); len(extra) > 0 {
		p("\n\n<section id=\"other\">\n<details>\n<summary><strong>Details: more counters</strong> <span class=\"detail\">(reconciliation, abuse limits, …)</span></summary>\n<table class=\"kv\">")
		for _, e := range extra {
			if len(e.Labels) == 0 {
				p("\n<tr><td>%s</td><td class=\"n\">%s</td></tr>", esc(e.Key), esc(extraWords(e.Key, e.Value)))
				continue
			}
			for _, l := range slices.Sorted(maps.Keys(e.Labels)) {
				p("\n<tr><td>%s: %s</td><td class=\"n\">%s</td></tr>", esc(e.Key), esc(l), esc(extraWords(e.Key, e.Labels[l])))
			}
		}
		p("\n</table>\n</details>\n</section>")
	}

	p("\n\n<footer>\nRefreshes every 30 s · numbers only: no addresses of people, no mailbox tags<br/>\n")
	p("<a href=\"/status%s\">JSON</a> · <a href=\"/metrics%s\">Prometheus metrics</a>\n</footer>\n</main>\n</body>\n</html>\n", esc(query), esc(query))
	_, err := io.WriteString(w, b.String())
	return err
}

// stepWords is "minute" for a one-minute step, else the step: "10 s".
func stepWords(step time.Duration) string {
	if step == time.Minute {
		return "minute"
	}
	return roughDuration(step)
}

// upperFirst capitalises the first letter of a sentence.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// plural64 is plural for counts: "1 message", "1 234 messages".
func plural64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return humanCount(n) + " " + many
}
