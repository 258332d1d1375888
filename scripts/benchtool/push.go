package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
)

// pushCmd is `benchtool push`: it pushes n blobs into a relay that is already running, the
// way a neighbour's flood or a reconnecting relay's backlog arrives: one client link (by
// default), inflight Puts pipelined on it, each answered only once the relay holds the blob
// durably. It prints one summary line and fails unless every blob was acknowledged.
// scripts/budgets uses it for the bulk-arrival disk figure of budget (c).
func pushCmd(args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	addr := fs.String("relay", "", "loopback address of the relay, 127.0.0.1:PORT (required)")
	n := fs.Int("n", 10_000, "blobs to push")
	conns := fs.Int("conns", 1, "client connections")
	inflight := fs.Int("inflight", 256, "concurrent Puts per connection (the link window)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--relay %q: %w", *addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--relay %q: only loopback relays are measured", *addr)
	}
	if *n < 1 || *conns < 1 || *inflight < 1 {
		return errors.New("--n, --conns and --inflight must be at least 1")
	}
	res, err := pushAll(config{conns: *conns, inflight: *inflight}, *addr, newRun(), *n)
	if err != nil {
		return err
	}
	fmt.Printf("push: %d of %d blobs of %d B acknowledged in %.2fs (%.0f/s), %d link(s) x %d in flight\n",
		res.acked, *n, blobSize, res.elapsed.Seconds(), float64(res.acked)/res.elapsed.Seconds(), *conns, *inflight)
	if res.acked != *n {
		var why []string
		for _, k := range slices.Sorted(maps.Keys(res.errs)) {
			why = append(why, fmt.Sprintf("%d %s", res.errs[k], k))
		}
		return fmt.Errorf("%d puts failed: %s", *n-res.acked, strings.Join(why, ", "))
	}
	return nil
}

func pushMain(args []string) {
	err := pushCmd(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench push: %v\n", err)
		os.Exit(1)
	}
}
