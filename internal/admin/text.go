package admin

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteText writes the terminal version of the status page, in the same words; all adds the
// other counters (Counters).
func WriteText(w io.Writer, r *Status, all bool) {
	v, _ := r.Verdict()
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	fmt.Fprintf(w, "%s · echorelay %s · running for %s\n%s\n", r.Name, r.Version, humanDuration(r.UptimeS), v)
	if r.Fingerprint != "" {
		fmt.Fprintf(w, "Relay ID (key %.16s…): give it to neighbours who link to you; `echorelay fingerprint` prints it whole\n", r.Fingerprint)
	}
	fmt.Fprintln(w)

	if len(r.Neighbours) == 0 {
		fmt.Fprintf(w, "neighbours  none: add them to the peers file, one host:port per line\n")
	} else {
		rows := [][]string{{"NEIGHBOUR", "STATE", "RECEIVED", "SENT"}}
		for _, n := range r.Neighbours {
			name := n.Peer
			if n.Inbound {
				name += " (it linked to us)"
			}
			if n.Address != "" {
				name += " " + n.Address
			}
			rows = append(rows, []string{name, stateLine(n, now), fmt.Sprint(n.BlobsIn), fmt.Sprint(n.BlobsOut)})
		}
		wn, ws := 0, 0
		for _, row := range rows {
			wn, ws = max(wn, utf8.RuneCountInString(row[0])), max(ws, utf8.RuneCountInString(row[1]))
		}
		for i, row := range rows {
			fmt.Fprintf(w, "%s  %s  %8s %8s\n", pad(row[0], wn), pad(row[1], ws), row[2], row[3])
			if i > 0 && r.Neighbours[i-1].LastError != "" {
				fmt.Fprintf(w, "%s  ! %s\n", pad("", wn), upperFirst(r.Neighbours[i-1].LastError))
			}
		}
		fmt.Fprintf(w, "(received and sent: messages since the neighbour connected; they start again from 0 when it reconnects)\n")
	}
	fmt.Fprintln(w)
	pct := r.cachePercent()
	fmt.Fprintf(w, "cache    %s %.1f %% · %s of %s · %d %s\n", textBar(pct, 20), pct, shortBytes(r.Cache.Bytes), shortBytes(r.Cache.MaxBytes), r.Cache.Blobs, blobWord(r.Cache.Blobs))
	fmt.Fprintf(w, "         %s\n", r.durabilityWords())
	fmt.Fprintf(w, "messages received %d · new %d · duplicates %d · passed on %d · dropped %d\n", r.Received, r.Stored, r.Duplicates, r.Relayed, r.QueueDrops)
	var rej []string
	for _, x := range r.rejectRows() {
		rej = append(rej, fmt.Sprintf("%s %d", reasonWords(x.Reason), x.Count))
	}
	if len(rej) == 0 {
		rej = []string{"nothing"}
	}
	fmt.Fprintf(w, "refused  %s\n", strings.Join(rej, " · "))
	extra := r.Counters()
	if len(extra) > 0 && !all {
		fmt.Fprintf(w, "more     %d other counters: echorelay status --all\n", len(extra))
	}
	for _, e := range extra {
		if !all {
			break
		}
		if e.Labels == nil {
			fmt.Fprintf(w, "  %-28s %s\n", e.Key, extraWords(e.Key, e.Value))
			continue
		}
		var parts []string
		for k, v := range e.Labels {
			parts = append(parts, fmt.Sprintf("%s %s", k, extraWords(e.Key, v)))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "  %-28s %s\n", e.Key, strings.Join(parts, " · "))
	}
	h := r.History
	if len(h.BlobsIn) > 0 {
		step := time.Duration(h.StepS * float64(time.Second))
		if step <= 0 {
			step = time.Minute
		}
		fmt.Fprintf(w, "\nlast %s (one point every %s; oldest left, now right)\n", roughDuration(step*time.Duration(len(h.BlobsIn))), stepWords(step))
		fmt.Fprintf(w, "  received   %s now %s · highest %s\n", sparkBlocks(h.BlobsIn), perMinute(lastValue(h.BlobsIn)), perMinute(maxOf(h.BlobsIn)))
		fmt.Fprintf(w, "  passed on  %s now %s · highest %s\n", sparkBlocks(h.BlobsOut), perMinute(lastValue(h.BlobsOut)), perMinute(maxOf(h.BlobsOut)))
		fmt.Fprintf(w, "  storage    %s now %s · highest %s\n", sparkBlocks(h.CacheBytes), shortBytes(int64(lastValue(h.CacheBytes))), shortBytes(int64(maxOf(h.CacheBytes))))
	}
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

// textBar draws a fill level as [#####-----].
func textBar(pct float64, width int) string {
	full := int(pct/100*float64(width) + 0.5)
	if pct > 0 && full == 0 {
		full = 1
	}
	full = min(full, width)
	return "[" + strings.Repeat("#", full) + strings.Repeat("-", width-full) + "]"
}
