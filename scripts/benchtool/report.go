package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Latency is in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// RelayUse is one relay process during one phase.
type RelayUse struct {
	Relay            string  `json:"relay"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	CPUPercent       float64 `json:"cpu_percent"`     // of one core, averaged over the phase
	CPUMicrosPerBlob float64 `json:"cpu_us_per_blob"` // CPU time over blobs stored: steadier than msg/s on a shared machine
	DiskBytes        int64   `json:"disk_write_bytes"`
	DiskBytesPerBlob float64 `json:"disk_write_bytes_per_blob"`
}

// Phase is a throughput measurement.
type Phase struct {
	Sent           int              `json:"sent"`
	Delivered      int64            `json:"delivered"` // stored by the (last) relay
	DeliveryRatio  float64          `json:"delivery_ratio"`
	MsgsPerS       float64          `json:"msgs_per_s"`
	IngestMsgsPerS float64          `json:"ingest_msgs_per_s,omitempty"` // acks at the first relay (chain)
	Seconds        float64          `json:"seconds"`
	AckLatency     Latency          `json:"ack_latency"`
	Errors         map[string]int   `json:"errors,omitempty"`
	Drops          map[string]int64 `json:"queue_drops,omitempty"`
	Use            []RelayUse       `json:"relays"`
}

// FixedRate is the chain at a fixed offered rate, with per-hop latency.
type FixedRate struct {
	Rate          int        `json:"rate_msgs_per_s"`
	Sent          int        `json:"sent"`
	Failed        int        `json:"failed"`
	SendSeconds   float64    `json:"send_seconds"`
	AtB           int        `json:"arrived_b"`
	AtC           int        `json:"arrived_c"`
	DeliveryRatio float64    `json:"delivery_ratio"`
	AckA          Latency    `json:"ack_at_a"`       // client send → durable ACK from A (the first hop)
	HopAB         Latency    `json:"hop_client_a_b"` // client send → subscriber at B (two hops)
	HopBC         Latency    `json:"hop_b_c"`        // subscriber at B → subscriber at C
	EndToEnd      Latency    `json:"end_to_end"`     // client send → subscriber at C
	Use           []RelayUse `json:"relays"`
}

// Fetch is the timing of FETCH of the 100 newest blobs of one mailbox.
type Fetch struct {
	MailboxBlobs int     `json:"mailbox_blobs"`
	Runs         int     `json:"runs"`
	Latency      Latency `json:"latency"`
}

// Ceilings are this machine's bounds, measured in the same run. The SQLite* fields are the
// store's persistence ceiling in blobs/s. Their JSON names are from before the blob log, when
// the ceiling was batched inserts of rows holding the envelope inline; since then it is log
// appends plus index rows (ceiling.go), which Report.CeilingDefinition says. Reports without
// that field hold the old ceiling: their figures are not comparable with newer ones.
type Ceilings struct {
	QUICUnbuffered   float64 `json:"quic_unbuffered_msgs_per_s"`
	QUICBuffered     float64 `json:"quic_buffered_msgs_per_s"`
	SQLiteFresh      float64 `json:"sqlite_batched_rows_per_s_fresh"`       // measured before the single-relay phase
	SQLiteFreshChain float64 `json:"sqlite_batched_rows_per_s_fresh_chain"` // measured again before the chain
	SQLiteBig        float64 `json:"sqlite_batched_rows_per_s_big"`         // against the prefilled store
}

// Target is one line of the verdict.
type Target struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Ceiling  float64 `json:"ceiling,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Goal     string  `json:"target"`
	Met      bool    `json:"met"`
}

// Report is bench.json.
type Report struct {
	Started        string   `json:"started"`
	Seconds        float64  `json:"seconds"`
	Quick          bool     `json:"quick"`
	GoVersion      string   `json:"go"`
	CPUs           int      `json:"cpus"`
	Load           string   `json:"loadavg_at_start"`
	Rows           int      `json:"big_store_rows"`
	BlobBytes      int      `json:"blob_bytes"`
	PrefillSeconds float64  `json:"prefill_seconds"`
	Ceilings       Ceilings `json:"ceilings"`
	// CeilingDefinition says what the persistence ceilings measured; empty in reports from
	// before the blob log (inline envelope rows, 1000 per transaction).
	CeilingDefinition string    `json:"ceiling_definition,omitempty"`
	Single            Phase     `json:"single_relay"`
	SingleBig         Phase     `json:"single_relay_big_store"`
	FetchBig          Fetch     `json:"fetch_newest_100_big_store"`
	ChainFull         Phase     `json:"chain_full_speed"`
	ChainFixed        FixedRate `json:"chain_fixed_rate"`
	Relayed           float64   `json:"relayed_msgs_per_s"` // the chain at full speed, arrivals at C
	Targets           []Target  `json:"targets"`
	AllMet            bool      `json:"all_met"`
}

func (r *Report) evaluate() {
	r.Relayed = r.ChainFull.MsgsPerS
	ratio := func(m, c float64) float64 {
		if c == 0 {
			return 0
		}
		return m / c
	}
	add := func(t Target) { r.Targets = append(r.Targets, t) }
	add(Target{Name: "single relay ingest", Measured: r.Single.MsgsPerS, Ceiling: r.Ceilings.SQLiteFresh,
		Ratio: ratio(r.Single.MsgsPerS, r.Ceilings.SQLiteFresh), Goal: ">= 0.80 of the persistence ceiling",
		Met: ratio(r.Single.MsgsPerS, r.Ceilings.SQLiteFresh) >= 0.80 && r.Single.DeliveryRatio == 1})
	third := r.Ceilings.SQLiteFreshChain / 3
	add(Target{Name: "chain A→B→C full speed", Measured: r.ChainFull.MsgsPerS, Ceiling: third,
		Ratio: ratio(r.ChainFull.MsgsPerS, third), Goal: ">= 0.75 of the persistence ceiling / 3",
		Met: ratio(r.ChainFull.MsgsPerS, third) >= 0.75})
	add(Target{Name: "chain full speed delivery", Measured: r.ChainFull.DeliveryRatio, Goal: "= 1.0",
		Met: r.ChainFull.DeliveryRatio == 1})
	add(Target{Name: "chain fixed-rate delivery", Measured: r.ChainFixed.DeliveryRatio, Goal: "= 1.0",
		Met: r.ChainFixed.DeliveryRatio == 1})
	// The relay-to-relay hop: B's subscriber to C's subscriber is B's flood, C's commit and
	// C's push. The client's own hop into A is the ack latency, reported beside it.
	hop := r.ChainFixed.HopBC.P99
	add(Target{Name: fmt.Sprintf("relay hop B→C latency p99 at %d msg/s (ms)", r.ChainFixed.Rate), Measured: hop,
		Goal: "<= 10", Met: hop <= 10 && r.ChainFixed.HopBC.N > 0})
	add(Target{Name: fmt.Sprintf("client hop →A (durable ack) p99 at %d msg/s (ms)", r.ChainFixed.Rate), Measured: r.ChainFixed.AckA.P99,
		Goal: "<= 10", Met: r.ChainFixed.AckA.P99 <= 10 && r.ChainFixed.AckA.N > 0})
	var rss float64
	for _, ph := range [][]RelayUse{r.Single.Use, r.SingleBig.Use, r.ChainFull.Use, r.ChainFixed.Use} {
		for _, u := range ph {
			rss = max(rss, u.PeakRSSMB)
		}
	}
	add(Target{Name: "peak RSS per relay under load (MB)", Measured: rss, Goal: "<= 64", Met: rss <= 64 && rss > 0})
	add(Target{Name: fmt.Sprintf("ingest at %d rows vs fresh", r.Rows), Measured: r.SingleBig.MsgsPerS, Ceiling: r.Single.MsgsPerS,
		Ratio: ratio(r.SingleBig.MsgsPerS, r.Single.MsgsPerS), Goal: ">= 0.60 of fresh ingest",
		Met: ratio(r.SingleBig.MsgsPerS, r.Single.MsgsPerS) >= 0.60 && r.SingleBig.DeliveryRatio == 1})
	add(Target{Name: fmt.Sprintf("fetch 100 newest at %d rows, p99 (ms)", r.Rows), Measured: r.FetchBig.Latency.P99,
		Goal: "<= 5", Met: r.FetchBig.Latency.N > 0 && r.FetchBig.Latency.P99 <= 5})
	r.AllMet = true
	for _, t := range r.Targets {
		r.AllMet = r.AllMet && t.Met
	}
}

func (r *Report) printTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nceilings (same run)\t\n")
	fmt.Fprintf(tw, "  quic-go stream, 1 KiB frames, one write each\t%.0f msg/s\n", r.Ceilings.QUICUnbuffered)
	fmt.Fprintf(tw, "  quic-go stream, 1 KiB frames, buffered\t%.0f msg/s\n", r.Ceilings.QUICBuffered)
	name := "store persistence (log append + fsync, index rows), per 1000 blobs"
	if r.CeilingDefinition == "" {
		name = "SQLite batched inserts, envelope inline (before the blob log)"
	}
	fmt.Fprintf(tw, "  %s, fresh\t%.0f blobs/s\n", name, r.Ceilings.SQLiteFresh)
	fmt.Fprintf(tw, "  the same, again before the chain\t%.0f blobs/s\n", r.Ceilings.SQLiteFreshChain)
	fmt.Fprintf(tw, "  the same, store of %d blobs\t%.0f blobs/s\n", r.Rows, r.Ceilings.SQLiteBig)
	fmt.Fprintf(tw, "\nphase\tmsg/s\tdelivered\tack p50/p99 ms\n")
	ph := func(name string, p Phase) {
		fmt.Fprintf(tw, "  %s\t%.0f\t%d/%d\t%.1f / %.1f\n", name, p.MsgsPerS, p.Delivered, p.Sent, p.AckLatency.P50, p.AckLatency.P99)
	}
	ph("single relay, fresh", r.Single)
	ph(fmt.Sprintf("single relay, %d rows", r.Rows), r.SingleBig)
	ph("chain A→B→C full speed (arrivals at C)", r.ChainFull)
	f := r.ChainFixed
	fmt.Fprintf(tw, "\nchain at %d msg/s\tp50\tp99\tp99.9\tmax (ms)\n", f.Rate)
	for _, l := range []struct {
		n string
		l Latency
	}{{"  client → A (durable ack)", f.AckA}, {"  client → A → B (subscriber at B)", f.HopAB}, {"  B → C (subscriber to subscriber)", f.HopBC}, {"  end to end", f.EndToEnd}} {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\n", l.n, l.l.P50, l.l.P99, l.l.P999, l.l.Max)
	}
	fmt.Fprintf(tw, "  delivered at C\t%d/%d\t\t\t\n", f.AtC, f.Sent)
	fmt.Fprintf(tw, "  fetch 100 newest of a mailbox, %d rows\t%.2f\t%.2f\t%.2f\t%.2f\n", r.Rows,
		r.FetchBig.Latency.P50, r.FetchBig.Latency.P99, r.FetchBig.Latency.P999, r.FetchBig.Latency.Max)
	fmt.Fprintf(tw, "\nrelay use\tpeak RSS MB\tCPU %% of a core\tCPU µs/blob\tdisk B/blob\t\n")
	for _, p := range []struct {
		n string
		u []RelayUse
	}{{"single", r.Single.Use}, {"single, big", r.SingleBig.Use}, {"chain full", r.ChainFull.Use}, {"chain fixed", f.Use}} {
		for _, u := range p.u {
			fmt.Fprintf(tw, "  %s %s\t%.1f\t%.0f\t%.0f\t%.0f\t\n", p.n, u.Relay, u.PeakRSSMB, u.CPUPercent, u.CPUMicrosPerBlob, u.DiskBytesPerBlob)
		}
	}
	fmt.Fprintf(tw, "\ntarget\tmeasured\tceiling\tratio\tgoal\tmet\n")
	for _, t := range r.Targets {
		c, ra := "", ""
		if t.Ceiling > 0 {
			c, ra = fmt.Sprintf("%.0f", t.Ceiling), fmt.Sprintf("%.2f", t.Ratio)
		}
		fmt.Fprintf(tw, "  %s\t%.2f\t%s\t%s\t%s\t%s\n", t.Name, t.Measured, c, ra, t.Goal, yes(t.Met))
	}
	tw.Flush()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench.svg"), []byte(r.svg()), 0o644)
}

// svg draws each throughput as a bar against the ceiling it is measured by, and the fixed-rate
// hop latencies against the 10 ms target.
func (r *Report) svg() string {
	type bar struct {
		name           string
		measured, ceil float64
		unit           string
	}
	bars := []bar{
		{"QUIC one write/frame", r.Ceilings.QUICUnbuffered, r.Ceilings.QUICBuffered, "msg/s"},
		{"single relay, fresh", r.Single.MsgsPerS, r.Ceilings.SQLiteFresh, "msg/s"},
		{fmt.Sprintf("single relay, %d rows", r.Rows), r.SingleBig.MsgsPerS, r.Ceilings.SQLiteBig, "msg/s"},
		{"chain A→B→C (÷3)", r.ChainFull.MsgsPerS, r.Ceilings.SQLiteFreshChain / 3, "msg/s"},
		{"ack p99 client→A", r.ChainFixed.AckA.P99, 10, "ms"},
		{"hop p99 B→C", r.ChainFixed.HopBC.P99, 10, "ms"},
		{"fetch 100 newest p99", r.FetchBig.Latency.P99, 5, "ms"},
	}
	const w, rowH, left, barW = 860, 34, 190, 440
	h := 60 + rowH*len(bars) + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15">echorelay bench %s </text>`+"\n", html.EscapeString(r.Started))
	fmt.Fprintf(&b, `<text x="10" y="42" fill="#555">%d CPUs, %s, load %s, 1 KiB blobs, durable acks. Bar: measured; dashed frame: ceiling of the same run (throughput) or target (latency)</text>`+"\n", r.CPUs, r.GoVersion, html.EscapeString(strings.TrimSpace(r.Load)))
	for i, x := range bars {
		y := 60 + i*rowH
		scale := max(x.ceil, x.measured)
		if scale <= 0 {
			scale = 1
		}
		mw := int(float64(barW) * x.measured / scale)
		cw := int(float64(barW) * x.ceil / scale)
		color := "#2a7ab0"
		if x.unit == "ms" && x.measured > x.ceil {
			color = "#c0392b"
		}
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", y+17, html.EscapeString(x.name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="22" fill="%s"/>`+"\n", left, y+3, mw, color)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="22" fill="none" stroke="#333" stroke-dasharray="4 2"/>`+"\n", left, y+3, cw)
		label := fmt.Sprintf("%.0f / %.0f %s", x.measured, x.ceil, x.unit)
		if x.unit == "ms" {
			label = fmt.Sprintf("%.2f ms (target %.0f)", x.measured, x.ceil)
		} else if x.ceil > 0 {
			label += fmt.Sprintf(" = %.0f%%", 100*x.measured/x.ceil)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+barW+10, y+19, html.EscapeString(label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
