package admin

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

// graph is one graph of the status page: the last span steps of a series, with a time axis
// that says which period it covers and a scale in the units of the series.
type graph struct {
	id     string
	title  string               // "Messages received per minute"
	now    string               // the latest value in words, shown beside the title
	values []float64            // oldest first, one per step; the last ends now
	step   time.Duration        // time between values
	span   int                  // values the full width holds (HistoryLen)
	bytes  bool                 // values are sizes in bytes, else counts
	unit   func(float64) string // the scale's label of a value
}

// graphWidth and graphHeight are the SVG's drawing box; the page stretches it to its width.
const (
	graphWidth  = 300
	graphHeight = 56
	graphPad    = 2.0
)

// html writes the graph: a head (title, latest value), the scale (top value and 0) beside the
// drawing, and the time axis under it ("1 h ago", "30 min ago", "now"). Values cover only the
// right part of the width when fewer than span are held (the relay started recently): the part
// before them says "no data yet", so 7 minutes of samples are never stretched over an hour.
func (g graph) html() string {
	span := max(g.span, len(g.values), 1)
	window := g.step * time.Duration(span)
	covered := g.step * time.Duration(len(g.values))
	from := 1 - float64(len(g.values))/float64(span) // where the data starts, 0..1 of the width
	top := niceTop(maxOf(g.values), g.bytes)

	var b strings.Builder
	fmt.Fprintf(&b, "<div class=\"graph\" id=\"%s\">\n<div class=\"head\"><span>%s</span> <strong>%s</strong></div>\n", esc(g.id), esc(g.title), esc(g.now))
	b.WriteString("<div class=\"plot\">")
	fmt.Fprintf(&b, "<div class=\"scale\" aria-hidden=\"true\"><span class=\"top\">%s</span> <span class=\"zero\">0</span></div>", esc(g.unit(top)))
	b.WriteString("<div class=\"area\">")
	label := fmt.Sprintf("%s over the last %s, scale 0 to %s", strings.ToLower(g.title), roughDuration(covered), g.unit(top))
	if len(g.values) == 0 {
		label = strings.ToLower(g.title) + ": nothing measured yet"
	}
	b.WriteString(graphSVG(g.values, top, from, graphWidth, graphHeight, label))
	if len(g.values) < span {
		text := ""
		if from >= 0.3 {
			text = "no data yet"
		}
		fmt.Fprintf(&b, "<span class=\"nodata\" style=\"width: %s%%\">%s</span>", num(100*from), text)
	}
	b.WriteString("</div></div>\n")
	fmt.Fprintf(&b, "<div class=\"axis\"><span>%s ago</span> <span>%s ago</span> <span>now</span></div>\n</div>\n",
		esc(roughDuration(window)), esc(roughDuration(window/2)))
	return b.String()
}

// graphSVG draws values as an inline SVG line graph, w×h pixels: 0 at the bottom, top at the
// top (a dashed line marks it), the values over the part of the width from from (0..1) to the
// right edge, and a dashed baseline before them (not measured). It uses currentColor, so the
// page's CSS picks the colour in light and dark mode. label becomes the accessible name and
// tooltip.
func graphSVG(values []float64, top, from float64, w, h int, label string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s"><title>%s</title>`,
		w, h, w, h, html.EscapeString(label), html.EscapeString(label))
	fw, fh := float64(w), float64(h)
	bottom, right := fh-graphPad, fw-graphPad
	x0 := graphPad + (fw-2*graphPad)*from
	// the scale: the top value (dashed), the middle of the period, the 0 baseline
	fmt.Fprintf(&b, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor" stroke-opacity="0.25" stroke-dasharray="2 3" vector-effect="non-scaling-stroke"/>`,
		num(graphPad), num(graphPad), num(right), num(graphPad))
	fmt.Fprintf(&b, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor" stroke-opacity="0.15" vector-effect="non-scaling-stroke"/>`,
		num(fw/2), num(graphPad), num(fw/2), num(bottom))
	if from > 0 || len(values) == 0 {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor" stroke-opacity="0.4" stroke-dasharray="3 3" vector-effect="non-scaling-stroke"/>`,
			num(graphPad), num(bottom), num(x0), num(bottom))
	}
	if len(values) == 0 {
		b.WriteString("</svg>")
		return b.String()
	}
	fmt.Fprintf(&b, `<line class="base" x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor" stroke-opacity="0.5" vector-effect="non-scaling-stroke"/>`,
		num(x0), num(bottom), num(right), num(bottom))
	pts := graphPoints(values, top, from, fw, fh, graphPad)
	var line strings.Builder
	for i, p := range pts {
		if i > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(num(p[0]) + "," + num(p[1]))
	}
	first, last := pts[0], pts[len(pts)-1]
	fmt.Fprintf(&b, `<polygon points="%s,%s %s %s,%s" fill="currentColor" fill-opacity="0.15" stroke="none"/>`,
		num(first[0]), num(bottom), line.String(), num(last[0]), num(bottom))
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round" vector-effect="non-scaling-stroke"/></svg>`, line.String())
	return b.String()
}

// graphPoints maps values to x,y pixel coordinates inside a w×h box with pad on every side:
// value i is the rate over the i-th step of the period from from (0..1 of the width) to the
// right edge, drawn at that step's end; the first value is also drawn at the period's start,
// so one value is a flat line over its step. y is 0 at the bottom and top at the top; negative
// values count as 0 and values above top are drawn at the top.
func graphPoints(values []float64, top, from, w, h, pad float64) [][2]float64 {
	if len(values) == 0 {
		return nil
	}
	span := w - 2*pad
	x0 := pad + span*from
	y := func(v float64) float64 {
		if top <= 0 || v <= 0 {
			return h - pad
		}
		return h - pad - (h-2*pad)*min(v, top)/top
	}
	pts := make([][2]float64, 0, len(values)+1)
	pts = append(pts, [2]float64{x0, y(values[0])})
	n := float64(len(values))
	for i, v := range values {
		pts = append(pts, [2]float64{x0 + (w-pad-x0)*float64(i+1)/n, y(v)})
	}
	return pts
}

func maxOf(values []float64) float64 {
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	return top
}

// niceTop is the scale's top for a largest value v: the next 1, 2 or 5 times a power of ten
// (of 1024 for sizes: 1, 2, 5, 10, 20, 50, 100, 200, 500 KiB, MiB, …), at least 1 (1 KiB).
func niceTop(v float64, bytes bool) float64 {
	unit := 1.0
	if bytes {
		unit = 1024
		for v > 1000*unit && unit < 1<<50 {
			unit *= 1024
		}
	}
	x := v / unit
	if x <= 0 || (bytes && x <= 1) {
		return unit
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if x <= m*p*(1+1e-9) {
			return m * p * unit
		}
	}
	return 10 * p * unit
}

// num prints a coordinate with at most one decimal.
func num(f float64) string { return strconv.FormatFloat(float64(int64(f*10+0.5))/10, 'f', -1, 64) }

// sparkBlocks draws values with the eight block characters, for the terminal.
func sparkBlocks(values []float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	bs := []rune(blocks)
	top := maxOf(values)
	var b strings.Builder
	for _, v := range values {
		i := 0
		if top > 0 && v > 0 {
			i = min(int(v/top*float64(len(bs)-1)+0.5), len(bs)-1)
		}
		b.WriteRune(bs[i])
	}
	return b.String()
}
