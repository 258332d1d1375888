// Package relayd wires one relay from its Config: the store, the echo relay, the peers node
// with its peers file, the admin listener and the idle memory trim, started in that order and
// stopped in reverse. cmd/echorelay parses flags into a Config (LoadConfig adds the config
// file and checks the result), owns the signals (SIGINT/SIGTERM end the context; SIGHUP and
// SIGUSR1 go to Serve, which calls Reload and Reconcile) and prints; this package prints
// nothing and logs through the logger it is given.
//
//	Start ──► Run(ctx) ──► ctx done ──► node stops ──► admin stops ──► store closes
//	            ▲   Reload / Reconcile at any time until Run returns
package relayd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/internal/memtrim"
	"github.com/echorelay/echorelay/internal/resolve"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

// Relay is one started relay.
type Relay struct {
	c        Config
	log      *slog.Logger
	st       *store.Store
	relay    *echo.Relay
	node     *peers.Node
	pf       *peersFile
	id       *peers.Identity
	admin    string   // bound admin address, "" when off
	web      string   // bound web client address, "" when off
	webURLs  []string // where browsers open it
	stops    []func()
	neighbrs int
}

// Start opens the cache, binds the relay's listeners and the admin listener, and reads the
// peers file; the relay serves once Run is called. On error everything opened is closed.
func Start(ctx context.Context, c Config, log *slog.Logger) (_ *Relay, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{c: c, log: log}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := resolve.Setup(c.Resolver); err != nil {
		return nil, hint.New("give an IP address, optionally with :port, e.g. 9.9.9.9", "--resolver: %s", err)
	}
	if c.Pprof != "" {
		stop, err := startPprof(c.Pprof)
		if err != nil {
			return nil, inUse(err, "--pprof")
		}
		r.stops = append(r.stops, stop)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: the collector works harder as the heap nears it instead of letting it
		// double, so the links' memory budget (peers/budget.go) stays within a Pi Zero's share.
		debug.SetMemoryLimit(softMemoryLimit)
	}
	if r.id, err = peers.LoadOrCreateIdentity(c.Data); err != nil {
		return nil, err
	}
	r.st, err = store.Open(filepath.Join(c.Data, "cache.db"), store.Options{
		MaxBytes: c.MaxStore, MaxMailboxBytes: c.MailboxBytes, Logger: log.With("part", "store"),
		CommitDelay: commitDelay(c.CommitDelay), SyncEvery: c.FsyncEvery,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to open cache: %w", err)
	}
	st := r.st
	r.stops = append(r.stops, func() { st.Close() }) // after the node stopped: in-flight writes finish first
	if now := time.Now(); now.Before(admin.ClockFloor) {
		log.Warn("this computer's clock is wrong: blobs will be refused as too far ahead until it is set (NTP, or date -s)", "clock", now.UTC().Format(time.DateTime))
	}
	if c.FsyncEvery > 0 {
		log.Info("blobs are acknowledged before their fsync (--fsync-every): a power cut can lose those of the last interval", "fsync_every", c.FsyncEvery)
	}
	limits := echo.DefaultLimits()
	limits.MaxBlob, limits.MaxTTL = c.MaxBlob, c.MaxTTL
	rs := relaystore.New(st)
	r.relay = echo.NewRelay(echo.Config{Store: rs, Set: rs, Limits: limits, Logger: log.With("part", "relay")})
	reconcileEvery := c.ReconcileEvery
	if reconcileEvery == 0 {
		reconcileEvery = -1 // peers: negative is off
	}
	pcfg := peers.Config{Identity: r.id, Relay: r.relay, Listen: c.Listen, Logger: log.With("part", "peers"), NoTCP: c.NoTCP,
		ReconcileEvery: reconcileEvery, EchoListen: c.EchoListen, EchoTTL: c.EchoTTL,
		EchoStateDir:   c.Data,                                      // the Echo lines' backlog positions survive a restart
		KnownPeersFile: filepath.Join(c.Data, peers.KnownPeersName)} // and so do the first-use pins
	c.Abuse.apply(&pcfg)
	if r.node, err = peers.New(pcfg); err != nil {
		if strings.Contains(err.Error(), "Echo") || strings.Contains(err.Error(), "echo-listen") {
			return nil, inUse(err, "--echo-listen")
		}
		if strings.Contains(err.Error(), peers.KnownPeersName) {
			return nil, hint.Wrap("fix or delete the line it names (`echorelay trust --list` shows the pins)", err)
		}
		return nil, inUse(err, "--listen")
	}
	r.pf = &peersFile{path: c.Peers}
	ps, err := r.pf.load(time.Now())
	if err != nil {
		r.node.Close()
		return nil, hint.New("each line is `host:port [fingerprint]`, # starts a comment", "%s", err)
	}
	r.node.SetPeers(ps)
	r.neighbrs = len(ps)
	col := &admin.Collector{Node: r.node, Relay: r.relay, Store: st, Started: time.Now(), PeersFile: r.pf.view}
	addr, stopAdmin, err := startAdmin(ctx, c, col, log)
	if err != nil {
		r.node.Close()
		return nil, inUse(err, "--admin (or --admin off)")
	}
	r.admin = addr
	r.stops = append(r.stops, stopAdmin)
	if r.web, r.webURLs, stopAdmin, err = startWeb(c, r.node, r.id, log); err != nil {
		r.node.Close()
		return nil, err
	}
	r.stops = append(r.stops, stopAdmin)
	return r, nil
}

// Ready is what a started relay tells scripts and tests (serve --ready-file writes it).
type Ready struct {
	Listen      string `json:"listen"`
	Port        int    `json:"port"`
	Admin       string `json:"admin"`
	Fingerprint string `json:"fingerprint"`
	Pid         int    `json:"pid"`
	Echo        string `json:"echo"`
	Web         string `json:"web"`
}

// Ready reports the bound addresses and the fingerprint.
func (r *Relay) Ready() Ready {
	host, _, _ := net.SplitHostPort(r.c.Listen)
	return Ready{Listen: net.JoinHostPort(host, fmt.Sprint(r.node.Port())), Port: r.node.Port(), Admin: r.admin,
		Fingerprint: r.id.Fingerprint, Pid: os.Getpid(), Echo: r.node.EchoAddr(), Web: r.web}
}

// Run serves until ctx ends, then stops the node (finishing cache writes), the admin listener
// and the store, in that order. It logs that the relay listens and writes the ready file first.
func (r *Relay) Run(ctx context.Context) error {
	defer r.close()
	ready := r.Ready()
	r.log.Info("relay listening", "addr", ready.Listen, "tcp", !r.c.NoTCP, "fingerprint", ready.Fingerprint, "data", r.c.Data,
		"peers", r.c.Peers, "neighbours", r.neighbrs, "admin", ready.Admin, "version", r.c.Version, "web_client", r.webURLs)
	if r.c.ReadyFile != "" {
		b, _ := json.Marshal(ready)
		if err := os.WriteFile(r.c.ReadyFile+".tmp", b, 0o644); err == nil {
			os.Rename(r.c.ReadyFile+".tmp", r.c.ReadyFile)
		}
	}
	st := r.st
	go memtrim.Default.Run(ctx, func() int64 {
		s := r.relay.Snapshot()
		return s.Received + s.Relayed + s.Duplicates + int64(s.Neighbours) + int64(st.Stats().Commits)
	}, func() {
		debug.FreeOSMemory()
		r.log.Debug("idle: memory returned to the system", "binary_bytes_unmapped", memtrim.ReleaseBinaryPages())
	})
	err := r.node.Run(ctx)
	r.log.Info("relay stopping: finishing cache writes")
	return err
}

// Reload re-reads the peers file; on error the relay keeps its old list (and logs why).
func (r *Relay) Reload() {
	ps, err := r.pf.load(time.Now())
	if err != nil {
		r.log.Error("peers file not reloaded, keeping the old list", "err", err)
		return
	}
	r.node.SetPeers(ps)
	r.log.Info("peers file reloaded", "neighbours", len(ps))
}

// Reconcile starts a reconciliation with every neighbour this relay initiates for.
func (r *Relay) Reconcile() {
	r.log.Info("reconciling with neighbours now (SIGUSR1)")
	r.node.Reconcile()
}

// close stops what Start started, in reverse order.
func (r *Relay) close() {
	for i := len(r.stops) - 1; i >= 0; i-- {
		r.stops[i]()
	}
	r.stops = nil
}

// inUse names the flag that moves a listener whose port another program holds.
func inUse(err error, flag string) error {
	if !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") {
		return err
	}
	return hint.Wrap("another program (or relay) uses that port; pick another with "+flag, err)
}

// commitDelay maps Config.CommitDelay to store.Options, where 0 means the default and a
// negative window commits what is queued without waiting.
func commitDelay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Signals are the operator's requests to a running relay: a value on Reload re-reads the
// peers file (Reload), one on Reconcile reconciles with the neighbours now (Reconcile).
// cmd/echorelay feeds them SIGHUP and SIGUSR1; a nil channel never asks.
type Signals struct{ Reload, Reconcile <-chan os.Signal }

// Serve starts the relay of c and runs it until ctx ends, acting on sig meanwhile.
func Serve(ctx context.Context, c Config, log *slog.Logger, sig Signals) error {
	r, err := Start(ctx, c, log)
	if err != nil {
		return err
	}
	return r.RunSignals(ctx, sig)
}

// RunSignals is Run, acting on sig until it returns.
func (r *Relay) RunSignals(ctx context.Context, sig Signals) error {
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for {
		select {
		case <-sig.Reload:
			r.Reload()
		case <-sig.Reconcile:
			r.Reconcile()
		case err := <-done:
			return err
		}
	}
}
