package main

// The status page as HTML, written by plain Go code rather than html/template: text/template
// looks methods up by name through reflect, which makes the linker keep every exported method of
// every reachable type (megabytes on arm64). The price is that escaping is done by hand here, so
// every rule below holds without exception:
//
//   - every string that comes from the report (relay name, neighbour labels, errors, reasons,
//     counter names) goes through esc, in text and in attribute values alike;
//   - every attribute value is written inside double quotes, which esc escapes;
//   - the only markup not built here is the sparkline SVG (sparkline.go), which escapes its label
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
)

//go:embed status.css
var statusCSS string

// esc escapes s for HTML text and for double-quoted attribute values: & < > " '.
func esc(s string) string { return html.EscapeString(s) }

func renderStatusPage(w io.Writer, r statusReport, query string) error {
	verdict, tone := r.verdict()
	step := "minute"
	if r.History.StepS > 0 && r.History.StepS != 60 {
		step = humanDuration(int64(r.History.StepS))
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
	p("<h1 id=\"relay-name\">%s</h1>\n", esc(r.Name))
	p("<p class=\"sub\" id=\"relay-info\">echorelay %s · running for %s · key %s</p>\n</header>\n",
		esc(r.Version), esc(humanDuration(r.UptimeS)), esc(fmt.Sprintf("%.16s", r.Fingerprint)))
	p("<p class=\"verdict %s\" id=\"verdict\">%s</p>\n\n", esc(tone), esc(verdict))

	p("<section id=\"neighbours-section\">\n<h2>Neighbours</h2>")
	if len(r.Neighbours) > 0 {
		p("\n<table id=\"neighbours\">\n<thead><tr><th>Neighbour</th><th class=\"n\">In</th><th class=\"n\">Out</th></tr></thead>\n<tbody>")
		for _, n := range r.Neighbours {
			p("\n<tr class=\"neighbour %s\">\n<td><strong class=\"name\">%s</strong>", esc(n.State), esc(n.Peer))
			if n.Inbound {
				p(" <span class=\"detail\">(called us)</span>")
			}
			if n.Fingerprint != "" {
				p(" <span class=\"detail\">key %s</span>", esc(n.Fingerprint))
			}
			if n.Address != "" {
				p("<div class=\"detail\">%s</div>", esc(n.Address))
			}
			p("\n<div><span class=\"dot %s\"></span><span class=\"state\">%s</span> <time class=\"detail\" datetime=\"%s\" title=\"since %s UTC\">for %s</time></div>",
				esc(n.State), esc(stateWords(n)), esc(n.Since.Format("2006-01-02T15:04:05Z07:00")), esc(n.Since.Format("2006-01-02 15:04:05")), esc(humanDuration(n.ForS)))
			if n.LastError != "" {
				p("<div class=\"err\">%s</div>", esc(n.LastError))
				if n.ErrorDetail != "" {
					p("<div class=\"detail\">%s</div>", esc(n.ErrorDetail))
				}
			}
			p("</td>\n<td class=\"n\">%s</td>\n<td class=\"n\">%s</td>\n</tr>", count(n.BlobsIn), count(n.BlobsOut))
		}
		p("\n</tbody>\n</table>\n<p class=\"detail\">In and out count blobs on the connections now open.</p>")
	} else {
		p("\n<p class=\"sub\" id=\"no-neighbours\">No neighbours yet. Add them to the peers file, one <code>host:port</code> per line, then reload the relay.</p>")
	}
	p("\n</section>\n\n")

	full := ""
	if pct >= 90 {
		full = " full"
	}
	p("<section id=\"cache\">\n<h2>Cache</h2>\n")
	p("<div class=\"bar%s\" role=\"meter\" aria-label=\"cache used\" aria-valuemin=\"0\" aria-valuemax=\"100\" aria-valuenow=\"%.1f\"><div style=\"width: %.1f%%\"></div></div>\n", full, pct, bar)
	p("<p class=\"sub\" id=\"cache-size\"><strong>%s</strong> of %s (%.1f %%) · %s %s</p>\n",
		esc(humanBytes(r.Cache.Bytes)), esc(humanBytes(r.Cache.MaxBytes)), pct, count(r.Cache.Blobs), blobWord(r.Cache.Blobs))
	p("<p class=\"detail\">Expired and removed: %s · removed early to make room: %s</p>\n", count(r.Cache.Swept), count(r.Cache.Evicted))
	if r.Cache.FsyncEvery > 0 {
		d := esc((time.Duration(r.Cache.FsyncEvery) * time.Millisecond).String())
		p("<p class=\"detail\" id=\"durability\">Saved to disk at least every %s (--fsync-every): a power cut can lose what arrived in the last %s.</p>\n", d, d)
	} else {
		p("<p class=\"detail\" id=\"durability\">Every blob is on disk before it is acknowledged.</p>\n")
	}
	p("</section>\n\n")

	h := r.History
	graph := func(title, value string, values []float64, label string) {
		p("<div class=\"graph\"><div class=\"head\"><span>%s</span><strong>%s</strong></div>%s</div>\n",
			esc(title), esc(value), sparklineSVG(values, 300, 44, label))
	}
	p("<section id=\"graphs\">\n<h2>Last hour</h2>\n")
	graph("Blobs in per minute", fmt.Sprint(lastValue(h.BlobsIn)), h.BlobsIn, "blobs in per minute")
	graph("Blobs out per minute", fmt.Sprint(lastValue(h.BlobsOut)), h.BlobsOut, "blobs out per minute")
	graph("Cache size", humanBytes(r.Cache.Bytes), h.CacheBytes, "cache size")
	fill := ""
	if len(h.BlobsIn) == 0 {
		fill = "; the graphs fill in as the relay runs"
	}
	p("<p class=\"detail\">One point every %s%s.</p>\n</section>\n\n", esc(step), fill)

	p("<section id=\"counters\">\n<h2>Blobs since start</h2>\n<table class=\"kv\">\n")
	p("<tr><td>received</td><td class=\"n\" id=\"blobs-received\">%s</td></tr>\n", count(r.Received))
	p("<tr><td>new, kept in the cache</td><td class=\"n\">%s</td></tr>\n", count(r.Stored))
	p("<tr><td>already had (duplicates)</td><td class=\"n\">%s</td></tr>\n", count(r.Duplicates))
	p("<tr><td>passed on to neighbours</td><td class=\"n\">%s</td></tr>\n", count(r.Relayed))
	p("<tr><td>not passed on: a neighbour was too slow</td><td class=\"n\">%s</td></tr>\n</table>\n</section>\n\n", count(r.QueueDrops))

	p("<section id=\"rejects\">\n<h2>Refused</h2>")
	if rows := r.rejectRows(); len(rows) > 0 {
		p("\n<table class=\"kv\">")
		for _, x := range rows {
			p("\n<tr><td>%s</td><td class=\"n\">%s</td></tr>", esc(reasonWords(x.Reason)), count(x.Count))
		}
		p("\n</table>")
	} else {
		p("\n<p class=\"sub\">Nothing refused.</p>")
	}
	p("\n</section>")

	if len(r.Extra) > 0 {
		p("\n\n<section id=\"other\">\n<details>\n<summary><strong>More counters</strong> <span class=\"detail\">(reconciliation, abuse limits, …)</span></summary>\n<table class=\"kv\">")
		for _, e := range r.Extra {
			if len(e.Labels) == 0 {
				p("\n<tr><td>%s</td><td class=\"n\">%s</td></tr>", esc(e.Key), esc(fmt.Sprint(e.Value)))
				continue
			}
			for _, l := range slices.Sorted(maps.Keys(e.Labels)) {
				p("\n<tr><td>%s: %s</td><td class=\"n\">%s</td></tr>", esc(e.Key), esc(l), esc(fmt.Sprint(e.Labels[l])))
			}
		}
		p("\n</table>\n</details>\n</section>")
	}

	p("\n\n<footer>\nRefreshes every 30 s · numbers only: no addresses of people, no mailbox tags<br/>\n")
	p("<a href=\"/status%s\">JSON</a> · <a href=\"/metrics%s\">Prometheus metrics</a>\n</footer>\n</main>\n</body>\n</html>\n", esc(query), esc(query))
	_, err := io.WriteString(w, b.String())
	return err
}
