package main

// The admin listener: the status page (/), /status as JSON, /metrics for Prometheus.
//
// It listens on 127.0.0.1:7789 by default and then needs no token. A non-loopback --admin is
// refused unless --admin-lan is given; every request must then carry the admin token, as
// ?token=… or Authorization: Bearer …. The token is --admin-token, else DATA/admin.token,
// generated and printed once on the first start that needs it.
//
// Every page shows numbers only: no client address, no mailbox tag, and no neighbour address
// unless --admin-show-addresses. status() is the single source: the page and `echorelay status`
// decode its JSON, /metrics is written from the same decoded report; a key added to status()
// shows up on all of them (numbers and maps of numbers as "other counters").

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
)

// Files in the data dir written by the admin listener.
const (
	adminTokenFile = "admin.token" // the LAN token, mode 0600
	adminAddrFile  = "admin.addr"  // the bound address while serving, for `echorelay status`
)

// adminState is what the status endpoints read.
type adminState struct {
	node      *peers.Node
	relay     *echo.Relay
	store     *store.Store
	started   time.Time
	name      string
	showAddrs bool
	hist      *statsHistory   // nil: no graphs
	peersFile *peersFileState // nil: none (tests)
}

func (a *adminState) status() map[string]any {
	s := a.relay.Snapshot()
	ss := a.store.Stats()
	l := a.relay.Limits()
	now := time.Now()
	m := map[string]any{
		"version":       version,
		"fingerprint":   a.node.Fingerprint(),
		"port":          a.node.Port(),
		"uptime_s":      int64(time.Since(a.started).Seconds()),
		"neighbours":    neighbourViews(a.node.Neighbours(), a.showAddrs, now),
		"neighbours_up": s.Neighbours,
		"cache": map[string]any{
			"blobs": ss.Blobs, "bytes": ss.Bytes, "max_bytes": ss.MaxBytes, "evicted": ss.Evicted, "swept": ss.Swept,
			"log_bytes": ss.LogBytes, "log_syncs": ss.LogSyncs, "sync_failures": ss.SyncFailures,
			"fsync_every_ms": ss.SyncEvery.Milliseconds(),
		},
		"blobs_received":  s.Received,
		"blobs_stored":    s.Stored,
		"blobs_duplicate": s.Duplicates,
		"blobs_relayed":   s.Relayed,
		"queue_drops":     s.QueueDrops,
		"rejects":         s.Rejects,
		"reconcile":       a.node.ReconcileStats(),
		"echo":            a.node.EchoCounters(),
		"limits":          map[string]any{"max_blob": l.MaxBlob, "max_ttl_s": int64(l.MaxTTL.Seconds()), "max_skew_s": int64(l.MaxSkew.Seconds())},
		"abuse":           a.abuseStatus(), // admin_abuse.go
	}
	// operator experience
	m["name"] = a.name
	m["started"] = a.started.UTC().Truncate(time.Second)
	m["now"] = time.Now().UTC().Truncate(time.Second)
	m["pid"] = os.Getpid() // for `echorelay reload`, which signals it
	if a.peersFile != nil {
		m["peers_file"] = a.peersFile.view()
	}
	if a.hist != nil {
		m["history"] = a.hist.view()
	}
	return m
}

// sample reads the counters the graphs follow.
func (a *adminState) sample() sample {
	s, ss := a.relay.Snapshot(), a.store.Stats()
	return sample{at: time.Now(), in: s.Received, out: s.Relayed, cacheBytes: ss.Bytes, cacheBlobs: ss.Blobs}
}

// report is status() as the page and /metrics read it: through its JSON, so that they show
// exactly what /status shows.
func (a *adminState) report() (statusReport, error) {
	b, err := json.Marshal(a.status())
	if err != nil {
		return statusReport{}, err
	}
	return parseReport(b)
}

// adminHandler answers the admin listener's requests (adminhttp.go serves them): the token
// first, then GET or HEAD of /, /status and /metrics.
func adminHandler(a *adminState, token string) httpHandler {
	return requireToken(token, func(r *httpRequest) httpResponse {
		if r.method != "GET" && r.method != "HEAD" {
			resp := textResponse(405, "only GET and HEAD are answered here")
			resp.header = append(resp.header, httpField{"Allow", "GET, HEAD"})
			return resp
		}
		switch r.path {
		case "/status":
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetIndent("", "  ")
			if err := enc.Encode(a.status()); err != nil {
				return textResponse(500, "status unavailable")
			}
			return httpResponse{status: 200, contentType: "application/json", body: b.Bytes()}
		case "/metrics":
			rep, err := a.report()
			if err != nil {
				return textResponse(500, "status unavailable")
			}
			var b bytes.Buffer
			if err := writeMetrics(&b, rep); err != nil {
				return textResponse(500, "metrics unavailable")
			}
			return httpResponse{status: 200, contentType: metricsContentType, body: b.Bytes()}
		case "/":
			rep, err := a.report()
			if err != nil {
				return textResponse(500, "status unavailable")
			}
			q := ""
			if t := r.query.Get("token"); t != "" {
				q = "?token=" + url.QueryEscape(t) // keep the token on the page's own links
			}
			var b bytes.Buffer
			if err := renderStatusPage(&b, rep, q); err != nil {
				return textResponse(500, "status page failed")
			}
			return httpResponse{status: 200, contentType: "text/html; charset=utf-8", body: b.Bytes()}
		}
		return textResponse(404, "404 page not found")
	})
}

// requireToken lets a request through when token is "" or the request carries it, as
// ?token=… or Authorization: Bearer … (which wins when both are given).
func requireToken(token string, h httpHandler) httpHandler {
	if token == "" {
		return loopbackHostOnly(h)
	}
	want := []byte(token)
	return func(r *httpRequest) httpResponse {
		got := r.query.Get("token")
		if a := r.get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			got = strings.TrimSpace(a[len("Bearer "):])
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			resp := textResponse(401, "this status page needs its token: open it as /?token=… (the token is in the relay's data directory, file admin.token)")
			resp.header = append(resp.header, httpField{"WWW-Authenticate", `Bearer realm="echorelay"`})
			return resp
		}
		return h(r)
	}
}

// loopbackHostOnly answers only requests whose Host names the loopback interface. Without a
// token the page relies on being reachable from this computer alone; a web page the operator
// opens could still reach it through DNS rebinding (attacker.example resolving to 127.0.0.1),
// and such a request carries the attacker's name in Host (issue #15 item 5).
func loopbackHostOnly(h httpHandler) httpHandler {
	return func(r *httpRequest) httpResponse {
		host := r.get("Host")
		if host == "" && r.proto != "HTTP/1.1" {
			return h(r) // HTTP/1.0 without Host: no browser sends that
		}
		if !loopbackHostHeader(host) {
			return textResponse(421, "this status page answers only requests for localhost, 127.0.0.1 or [::1]; open http://127.0.0.1:PORT/ (the name in the request is not one of them)")
		}
		return h(r)
	}
}

// loopbackHostHeader reports whether a Host header value (host, host:port, [v6]:port) is
// localhost or a loopback address.
func loopbackHostHeader(v string) bool {
	host := v
	if h, _, err := net.SplitHostPort(v); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackHost reports whether HOST:PORT names only the loopback interface.
func isLoopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adminToken returns the token for a LAN listener: the configured one, else the one in
// DATA/admin.token, else a new one written there and printed once to stderr.
func adminToken(c serveConfig) (string, error) {
	if c.AdminToken != "" {
		return c.AdminToken, nil
	}
	path := filepath.Join(c.Data, adminTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); len(t) >= 16 {
			return t, nil
		}
		return "", userErr("delete the file to have a new token generated, or give --admin-token", "%s holds no usable token", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("failed to read the admin token: %w", err)
	}
	var raw [20]byte
	rand.Read(raw[:])
	t := hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("failed to write the admin token: %w", err)
	}
	fmt.Fprintf(os.Stderr, "echorelay: the status page on the LAN needs this token (kept in %s):\n  %s\n  open http://%s/?token=%s\n", path, t, c.Admin, t)
	return t, nil
}

// startAdmin starts the admin listener and the history sampler. stop closes both.
func startAdmin(ctx context.Context, c serveConfig, a *adminState, log *slog.Logger) (addr string, stop func(), err error) {
	if c.Admin == "off" {
		return "", func() {}, nil
	}
	token := ""
	if !isLoopbackHost(c.Admin) {
		if token, err = adminToken(c); err != nil {
			return "", nil, err
		}
	}
	ln, err := net.Listen("tcp", c.Admin)
	if err != nil {
		return "", nil, fmt.Errorf("failed to listen for the status page on %s: %w", c.Admin, err)
	}
	addr = ln.Addr().String()
	a.name, a.showAddrs = c.Name, c.AdminShowAddrs
	a.hist = newStatsHistory(c.HistoryInterval)
	hctx, cancel := context.WithCancel(ctx)
	go a.hist.run(hctx, a.sample)
	stopHTTP := serveHTTP(ln, adminHandler(a, token)) // logs nothing: no client address anywhere
	addrFile := filepath.Join(c.Data, adminAddrFile)
	if err := os.WriteFile(addrFile, []byte(localAddr(addr, c.Admin)+"\n"), 0o644); err != nil {
		log.Warn("failed to write the admin address file", "err", err)
	}
	return addr, func() {
		cancel()
		stopHTTP()
		os.Remove(addrFile)
	}, nil
}

// localAddr turns a bound address into one this machine can dial: an unspecified host (all
// interfaces) becomes the loopback address of the family asked for (Go reports "[::]" for a
// dual-stack 0.0.0.0 listener, so the configured address decides).
func localAddr(bound, configured string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		return bound
	}
	if ch, _, _ := net.SplitHostPort(configured); strings.Contains(ch, ":") {
		return net.JoinHostPort("::1", port)
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// defaultRelayName is the host name, for the status page's title.
func defaultRelayName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "echorelay"
	}
	h, _, _ = strings.Cut(h, ".")
	if len(h) > 64 {
		h = h[:64]
	}
	return h
}
