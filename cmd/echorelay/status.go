package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

func init() {
	register(command{"status", "print a running relay's status page in the terminal (for SSH users)", cmdStatus})
}

// DefaultAdmin is the admin listener's default address.
var DefaultAdmin = fmt.Sprintf("127.0.0.1:%d", DefaultPort+1)

func cmdStatus(args []string) error {
	fs := newFlags("status", "[flags]", "Print the status of the relay running on this computer: neighbours, cache, counters and the\nlast hour, read from its admin listener (the same numbers as its status page).")
	admin := fs.String("admin", "", "HOST:PORT of the relay's admin listener (default: the address in DATA/admin.addr, else "+DefaultAdmin+")")
	data := fs.String("data", defaultDataDir(), "the relay's data directory, where it notes its admin address and LAN token")
	token := fs.String("token", "", "token of a LAN status page (default: DATA/admin.token when present)")
	asJSON := fs.Bool("json", false, "print /status as JSON instead")
	all := fs.Bool("all", false, "also print the counters of reconciliation, abuse limits and other parts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return userErr("status takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	addr := *admin
	if addr == "" {
		addr = DefaultAdmin
		if b, err := os.ReadFile(filepath.Join(*data, adminAddrFile)); err == nil && strings.TrimSpace(string(b)) != "" {
			addr = strings.TrimSpace(string(b))
		}
	}
	if *token == "" {
		if b, err := os.ReadFile(filepath.Join(*data, adminTokenFile)); err == nil {
			*token = strings.TrimSpace(string(b))
		}
	}
	body, err := fetchStatus(addr, *token)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := os.Stdout.Write(body)
		return err
	}
	r, err := parseReport(body)
	if err != nil {
		return err
	}
	printStatus(os.Stdout, r, *all)
	return nil
}

func fetchStatus(addr, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/status", nil)
	if err != nil {
		return nil, userErr("give the admin address as HOST:PORT, e.g. "+DefaultAdmin, "bad admin address %q", addr)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, userErr("is the relay running? it serves its status on --admin ("+DefaultAdmin+" by default); give --admin or --data if it uses others",
				"no relay answers at %s", addr)
		case errors.As(err, &ne) && ne.Timeout():
			return nil, userErr("check the address given to --admin", "%s did not answer", addr)
		}
		return nil, fmt.Errorf("failed to read status from %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("failed to read status from %s: %w", addr, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, userErr("give --token, or --data with the relay's data directory (it holds admin.token)", "the status page at %s needs its token", addr)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("failed to read status from %s: %s", addr, resp.Status)
	}
	return body, nil
}

// printStatus is the terminal version of the status page.
func printStatus(w io.Writer, r statusReport, all bool) {
	v, _ := r.verdict()
	fmt.Fprintf(w, "%s · echorelay %s · running for %s · key %.16s\n%s\n\n", r.Name, r.Version, humanDuration(r.UptimeS), r.Fingerprint, v)

	if len(r.Neighbours) == 0 {
		fmt.Fprintf(w, "neighbours  none: add them to the peers file, one host:port per line\n")
	} else {
		rows := [][]string{{"NEIGHBOUR", "STATE", "IN", "OUT"}}
		for _, n := range r.Neighbours {
			name := n.Peer
			if n.Inbound {
				name += " (called us)"
			}
			if n.Address != "" {
				name += " " + n.Address
			}
			rows = append(rows, []string{name, stateWords(n) + " for " + humanDuration(n.ForS), fmt.Sprint(n.BlobsIn), fmt.Sprint(n.BlobsOut)})
		}
		wn, ws := 0, 0
		for _, row := range rows {
			wn, ws = max(wn, utf8.RuneCountInString(row[0])), max(ws, utf8.RuneCountInString(row[1]))
		}
		for i, row := range rows {
			fmt.Fprintf(w, "%s  %s  %8s %8s\n", pad(row[0], wn), pad(row[1], ws), row[2], row[3])
			if i > 0 && r.Neighbours[i-1].LastError != "" {
				fmt.Fprintf(w, "%s  ! %s\n", pad("", wn), r.Neighbours[i-1].LastError)
			}
		}
	}
	fmt.Fprintln(w)
	pct := r.cachePercent()
	fmt.Fprintf(w, "cache    %s %.1f %% · %s of %s · %d blobs\n", textBar(pct, 20), pct, humanBytes(r.Cache.Bytes), humanBytes(r.Cache.MaxBytes), r.Cache.Blobs)
	fmt.Fprintf(w, "blobs    received %d · new %d · duplicates %d · passed on %d · dropped %d\n", r.Received, r.Stored, r.Duplicates, r.Relayed, r.QueueDrops)
	var rej []string
	for _, x := range r.rejectRows() {
		rej = append(rej, fmt.Sprintf("%s %d", reasonWords(x.Reason), x.Count))
	}
	if len(rej) == 0 {
		rej = []string{"nothing"}
	}
	fmt.Fprintf(w, "refused  %s\n", strings.Join(rej, " · "))
	if len(r.Extra) > 0 && !all {
		fmt.Fprintf(w, "more     %d other counters: echorelay status --all\n", len(r.Extra))
	}
	for _, e := range r.Extra {
		if !all {
			break
		}
		if e.Labels == nil {
			fmt.Fprintf(w, "  %-28s %s\n", e.Key, formatMetric(e.Value))
			continue
		}
		var parts []string
		for k, v := range e.Labels {
			parts = append(parts, fmt.Sprintf("%s %s", k, formatMetric(v)))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "  %-28s %s\n", e.Key, strings.Join(parts, " · "))
	}
	h := r.History
	if len(h.BlobsIn) > 0 {
		fmt.Fprintf(w, "\nlast %s, per minute (one point every %s)\n", humanDuration(int64(h.StepS*float64(len(h.BlobsIn)))), humanDuration(int64(h.StepS)))
		fmt.Fprintf(w, "  in     %s %s\n", sparkBlocks(h.BlobsIn), formatMetric(lastValue(h.BlobsIn)))
		fmt.Fprintf(w, "  out    %s %s\n", sparkBlocks(h.BlobsOut), formatMetric(lastValue(h.BlobsOut)))
		fmt.Fprintf(w, "  cache  %s %s\n", sparkBlocks(h.CacheBytes), humanBytes(int64(lastValue(h.CacheBytes))))
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
