package relayd

// The admin listener's wiring (internal/admin serves it): the status page (/), /status as JSON,
// /metrics for Prometheus.
//
// It listens on 127.0.0.1:7789 by default and then needs no token. A non-loopback --admin is
// refused unless --admin-lan is given; every request must then carry the admin token, as
// ?token=… or Authorization: Bearer …. The token is --admin-token, else DATA/admin.token,
// generated and printed once on the first start that needs it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/hint"
)

// adminToken returns the token for a LAN listener: the configured one, else the one in
// DATA/admin.token, else a new one written there and printed once to stderr (the operator
// must learn it, and the log is no place for a secret).
func adminToken(c Config) (string, error) {
	if c.AdminToken != "" {
		return c.AdminToken, nil
	}
	t, created, err := admin.LoadOrCreateToken(c.Data)
	if errors.Is(err, admin.ErrUnusableToken) {
		return "", hint.New("delete the file to have a new token generated, or give --admin-token", "%s holds no usable token", filepath.Join(c.Data, admin.TokenFile))
	}
	if err != nil {
		return "", err
	}
	if created {
		fmt.Fprintf(os.Stderr, "echorelay: the status page on the LAN needs this token (kept in %s):\n  %s\n  open http://%s/?token=%s\n", filepath.Join(c.Data, admin.TokenFile), t, c.Admin, t)
	}
	return t, nil
}

// startAdmin starts the admin listener and the history sampler. stop closes both.
func startAdmin(ctx context.Context, c Config, col *admin.Collector, log *slog.Logger) (addr string, stop func(), err error) {
	if c.Admin == "off" {
		return "", func() {}, nil
	}
	token := ""
	if !IsLoopbackHost(c.Admin) {
		if token, err = adminToken(c); err != nil {
			return "", nil, err
		}
	}
	col.Name, col.Version, col.ShowAddresses = c.Name, c.Version, c.AdminShowAddrs
	col.History = admin.NewHistoryRing(c.HistoryInterval)
	srv, err := admin.Listen(c.Admin, admin.Config{Status: col.Status, Token: token})
	if err != nil {
		return "", nil, err
	}
	addr = srv.Addr().String()
	hctx, cancel := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() { defer close(sampled); col.History.Run(hctx, col.Sample) }()
	addrFile := filepath.Join(c.Data, admin.AddrFile)
	if err := os.WriteFile(addrFile, []byte(LocalAddr(addr, c.Admin)+"\n"), 0o644); err != nil {
		log.Warn("failed to write the admin address file", "err", err)
	}
	return addr, func() {
		cancel()
		srv.Close()
		<-sampled
		os.Remove(addrFile)
	}, nil
}

// LocalAddr turns a bound address into one this machine can dial: an unspecified host (all
// interfaces) becomes the loopback address of the family asked for (Go reports "[::]" for a
// dual-stack 0.0.0.0 listener, so the configured address decides).
func LocalAddr(bound, configured string) string {
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

// DefaultName is the host name, for the status page's title.
func DefaultName() string {
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
