package main

import (
	"fmt"
	"html"
	"strconv"
	"strings"
)

// sparklineSVG draws values as a small inline SVG line graph, w×h pixels, scaled so that the
// largest value touches the top and zero the bottom. It uses currentColor, so the page's CSS
// picks the colour in light and dark mode; the page may stretch it to its width. label becomes the accessible name and tooltip.
// With no values it draws a dashed baseline: nothing measured yet.
func sparklineSVG(values []float64, w, h int, label string) string {
	const pad = 2.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s"><title>%s</title>`,
		w, h, w, h, html.EscapeString(label), html.EscapeString(label))
	bottom := float64(h) - pad
	if len(values) == 0 {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor" stroke-opacity="0.4" stroke-dasharray="3 3" vector-effect="non-scaling-stroke"/></svg>`,
			num(pad), num(bottom), num(float64(w)-pad), num(bottom))
		return b.String()
	}
	pts := sparkPoints(values, float64(w), float64(h), pad)
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

// sparkPoints maps values to x,y pixel coordinates inside a w×h box with pad on every side.
// A single value is drawn as a flat line across the box. Negative values count as zero.
func sparkPoints(values []float64, w, h, pad float64) [][2]float64 {
	if len(values) == 1 {
		values = []float64{values[0], values[0]}
	}
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	pts := make([][2]float64, len(values))
	span := w - 2*pad
	for i, v := range values {
		x := pad + span*float64(i)/float64(len(values)-1)
		y := h - pad
		if top > 0 && v > 0 {
			y = h - pad - (h-2*pad)*v/top
		}
		pts[i] = [2]float64{x, y}
	}
	return pts
}

// num prints a coordinate with at most one decimal.
func num(f float64) string { return strconv.FormatFloat(float64(int64(f*10+0.5))/10, 'f', -1, 64) }

// sparkBlocks draws values with the eight block characters, for the terminal.
func sparkBlocks(values []float64) string {
	const blocks = "▁▂▃▄▅▆▇█"
	bs := []rune(blocks)
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
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
