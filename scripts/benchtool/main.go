// Command benchtool is the program behind scripts/bench: it measures the ceilings of this
// machine (raw quic-go stream throughput; the store's persistence — 1 KiB envelopes appended
// to a log file with one fsync per 1000, and their index rows inserted with the store's own
// schema, 1000 per transaction — fresh and at BENCH_ROWS rows, see ceiling.go), then real
// `echorelay serve` processes on loopback (one relay taking client puts; a chain A→B→C at full
// speed and at a fixed rate), and reports every throughput as a ratio to the ceiling measured
// in the same run.
//
// It prints a table, writes bench.json and bench.svg into the results folder (--out), and
// exits 0 after reporting; with --strict it exits 1 when a target is missed.
//
// `benchtool push --relay 127.0.0.1:PORT [--n 10000]` measures nothing itself: it pushes n
// blobs into a relay that is already running, pipelined over one client link with durable
// acks, for scripts/budgets (see push.go).
//
// Everything runs on 127.0.0.1, in a temporary directory under BENCH_DIR (default /var/tmp, a
// real disk: tmpfs would hide the cost of fsync), and stops by itself; every wait is bounded.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// config is the run's size; --quick shrinks it for a fast check.
type config struct {
	quick     bool
	strict    bool
	out       string
	dir       string // scratch directory on a real disk
	bin       string // echorelay binary (built when empty)
	rows      int    // BENCH_ROWS: store size for the "at 1 M rows" figures
	n         int    // blobs pushed per throughput phase
	rate      int    // fixed-rate phase, msg/s
	rateFor   time.Duration
	conns     int // client connections per load generator
	inflight  int // concurrent Puts per connection
	quicN     int // frames per raw QUIC measurement
	sqlN      int // rows per SQLite ceiling measurement
	fetchRuns int // timed fetches of the 100 newest blobs of one mailbox
	profile   string
	phases    string
}

func (c config) want(phase string) bool {
	return c.phases == "all" || strings.Contains(","+c.phases+",", ","+phase+",")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "push" {
		pushMain(os.Args[2:])
		return
	}
	var c config
	flag.BoolVar(&c.quick, "quick", false, "small sizes (BENCH_ROWS 100000, fewer blobs): a check in about a minute")
	flag.BoolVar(&c.strict, "strict", false, "exit 1 when a target is missed")
	flag.StringVar(&c.out, "out", "scripts/results", "folder for bench.json and bench.svg")
	flag.StringVar(&c.bin, "bin", "", "echorelay binary to run (default: build ./cmd/echorelay)")
	flag.StringVar(&c.profile, "profile", "", "save 3 s CPU profiles of every relay at the start of each throughput phase into this folder (relays run with --pprof; the relay is then built with -tags pprof, and a --bin must be such a developer build)")
	flag.StringVar(&c.phases, "phases", "all", "comma-separated subset of ceilings,single,chain,big (for profiling; the targets need all)")
	replot := flag.String("replot", "", "measure nothing: read this bench.json, print its table and rewrite the files in --out")
	flag.Parse()
	if *replot != "" {
		if err := replotFrom(*replot, c.out); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if c.profile != "" {
		profiling = true
		if err := os.MkdirAll(c.profile, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
	}
	c.dir = os.Getenv("BENCH_DIR")
	if c.dir == "" {
		c.dir = "/var/tmp"
	}
	if c.quick {
		c.rows = envInt("BENCH_ROWS", 100_000)
		c.n = envInt("BENCH_N", 10_000)
		c.rateFor = 5 * time.Second
		c.quicN = 50_000
		c.sqlN = 10_000
		c.fetchRuns = 100
	} else {
		c.rows = envInt("BENCH_ROWS", 1_000_000)
		c.n = envInt("BENCH_N", 40_000)
		c.rateFor = 15 * time.Second
		c.quicN = 200_000
		c.sqlN = 40_000
		c.fetchRuns = 500
	}
	c.rate = envInt("BENCH_RATE", 1000)
	c.conns = envInt("BENCH_CONNS", 4)
	c.inflight = envInt("BENCH_INFLIGHT", 256)
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(c config) error {
	work, err := os.MkdirTemp(c.dir, "echorelay-bench.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if c.bin == "" {
		c.bin = filepath.Join(work, "echorelay")
		args := []string{"build", "-o", c.bin}
		if c.profile != "" {
			args = append(args, "-tags", "pprof") // --pprof is in developer builds only
		}
		logf("building echorelay")
		cmd := exec.Command("go", append(args, "./cmd/echorelay")...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("failed to build echorelay: %w", err)
		}
	}
	r := &Report{
		Started: time.Now().UTC().Format(time.RFC3339), Quick: c.quick, GoVersion: runtime.Version(),
		CPUs: runtime.NumCPU(), Rows: c.rows, BlobBytes: blobSize, Load: loadavg(),
	}
	if err := measure(c, work, r); err != nil {
		return err
	}
	r.Seconds = time.Since(mustParse(r.Started)).Seconds()
	r.evaluate()
	r.printTable(os.Stdout)
	if err := r.write(c.out); err != nil {
		return err
	}
	logf("wrote %s and %s", filepath.Join(c.out, "bench.json"), filepath.Join(c.out, "bench.svg"))
	if c.strict && !r.AllMet {
		return fmt.Errorf("a target was missed")
	}
	return nil
}

func mustParse(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if len(b) > 14 {
		return string(b[:14])
	}
	return string(b)
}

// measure runs every phase in order and fills r.
func measure(c config, work string, r *Report) error {
	var err error
	if c.want("ceilings") {
		logf("ceiling: raw quic-go stream, %d frames of %d B", c.quicN, blobSize)
		if r.Ceilings.QUICUnbuffered, err = quicCeiling(c.quicN/2, false); err != nil {
			return fmt.Errorf("quic ceiling: %w", err)
		}
		if r.Ceilings.QUICBuffered, err = quicCeiling(c.quicN, true); err != nil {
			return fmt.Errorf("quic ceiling: %w", err)
		}
	}
	r.CeilingDefinition = ceilingDefinition
	// The persistence ceiling is measured right before each phase that is compared with it:
	// other tenants' load on a shared machine changes within minutes.
	freshCeiling := func(into *float64) error {
		logf("ceiling: store persistence (per 1000 blobs: log append + fsync, index rows in one transaction, synchronous=FULL), fresh store")
		fresh := filepath.Join(work, "ceiling-fresh.db")
		defer removeDB(fresh)
		v, err := sqliteCeiling(fresh, c.sqlN)
		if err != nil {
			return fmt.Errorf("sqlite ceiling: %w", err)
		}
		*into = v
		return nil
	}
	if c.want("single") {
		if err := freshCeiling(&r.Ceilings.SQLiteFresh); err != nil {
			return err
		}
		logf("single relay, fresh store: %d blobs from %d connections × %d in flight", c.n, c.conns, c.inflight)
		if r.Single, err = singleRelay(c, filepath.Join(work, "single"), c.n); err != nil {
			return fmt.Errorf("single relay: %w", err)
		}
	}
	if c.want("chain") {
		if err := freshCeiling(&r.Ceilings.SQLiteFreshChain); err != nil {
			return err
		}
		logf("chain A→B→C at full speed: %d blobs", c.n)
		if r.ChainFull, r.ChainFixed, err = chain(c, filepath.Join(work, "chain")); err != nil {
			return fmt.Errorf("chain: %w", err)
		}
	}
	if c.want("big") {
		big := filepath.Join(work, "big")
		if keep := os.Getenv("BENCH_BIG_DIR"); keep != "" {
			big = keep // reused between runs: prefilled once, grows by each run's blobs
		}
		db := filepath.Join(big, "cache.db")
		if reusable(db) && os.Getenv("BENCH_BIG_DIR") != "" {
			logf("reusing the prefilled store in %s", big)
		} else {
			if _, err := os.Stat(db); err == nil {
				logf("%s has no %s-log/ (the layout before the blob log): removing it and prefilling again", db, filepath.Base(db))
			}
			removeDB(db)
			logf("prefilling %d blobs through package store (setup, not timed)", c.rows)
			t0 := time.Now()
			if err := prefill(db, c.rows); err != nil {
				return fmt.Errorf("prefill: %w", err)
			}
			r.PrefillSeconds = time.Since(t0).Seconds()
		}
		logf("ceiling: store persistence (log append + fsync, index rows in 1000-row transactions) at %d rows; its rows are deleted again", c.rows)
		if r.Ceilings.SQLiteBig, err = sqliteCeiling(db, c.sqlN); err != nil {
			return fmt.Errorf("sqlite ceiling at %d rows: %w", c.rows, err)
		}
		logf("single relay holding %d rows: %d blobs, then fetches of the 100 newest of one mailbox", c.rows, c.n)
		if r.SingleBig, r.FetchBig, err = singleRelayBig(c, big); err != nil {
			return fmt.Errorf("single relay at %d rows: %w", c.rows, err)
		}
	}
	return nil
}

// reusable reports whether a kept store at db has the blob log layout: the SQLite file and
// its log directory. A store of the old layout (envelopes inline, no <db>-log/) is not.
func reusable(db string) bool {
	if _, err := os.Stat(db); err != nil {
		return false
	}
	st, err := os.Stat(db + "-log")
	return err == nil && st.IsDir()
}

func replotFrom(path, out string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r.Targets = nil
	r.evaluate()
	r.printTable(os.Stdout)
	return r.write(out)
}
