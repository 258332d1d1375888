package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/memtrim"
	"github.com/echorelay/echorelay/internal/resolve"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

func init() {
	register(command{"serve", "run a relay (QUIC and TCP+TLS, SQLite cache, neighbours from a peers file)", cmdServe})
}

// softMemoryLimit is the Go runtime's soft memory limit for serve (GOMEMLIMIT overrides it):
// the budget for peak RSS is 64 MB.
const softMemoryLimit = 48 << 20

// DefaultPort is the relay's port for QUIC (UDP) and TCP+TLS; the admin page listens on the next.
const DefaultPort = 7788

type serveConfig struct {
	Data, Listen, Peers, Admin, Resolver, LogLevel, ReadyFile string
	MaxStore, MailboxBytes                                    int64
	MaxBlob                                                   int
	MaxTTL                                                    time.Duration
	NoTCP                                                     bool
	ReconcileEvery                                            time.Duration
	Abuse                                                     abuseFlags
	Pprof                                                     string        // loopback address for net/http/pprof, "" = off; -tags pprof builds only
	CommitDelay                                               time.Duration // the store's group-commit window
	FsyncEvery                                                time.Duration // store.Options.SyncEvery; 0 = fsync before every ack
	// operator experience: config file, status page (admin.go, config.go)
	Config, Name, AdminToken              string
	PrintConfig, AdminLAN, AdminShowAddrs bool
	HistoryInterval                       time.Duration
	EchoListen                            string        // Echo interop listener
	EchoTTL                               time.Duration // lifetime of bridged Echo data
}

func cmdServe(args []string) error {
	c, fs, src, err := loadServeConfig(args)
	if err != nil {
		return err
	}
	if c.PrintConfig {
		printConfig(os.Stdout, fs, src)
		return nil
	}
	return serve(c)
}

// serveFlags is the one table of serve's options: flags, and the keys of the config file.
func serveFlags(c *serveConfig) *flag.FlagSet {
	fs := newFlags("serve", "[flags]", "Run a relay. With no flags it listens on all interfaces, port 7788 (UDP for QUIC and TCP\nfor TLS), keeps its cache and node key in the default data directory, and serves its status\npage on 127.0.0.1:7789.")
	fs.StringVar(&c.Data, "data", defaultDataDir(), "data directory: SQLite cache, node key and certificate")
	fs.StringVar(&c.Listen, "listen", fmt.Sprintf("0.0.0.0:%d", DefaultPort), "HOST:PORT for QUIC (UDP) and TCP+TLS; all interfaces so that the LAN can reach it")
	fs.StringVar(&c.Peers, "peers", "", "`FILE` of neighbours, one 'host:port [fingerprint]' per line; re-read on SIGHUP (default DATA/peers)")
	fs.StringVar(&c.Admin, "admin", fmt.Sprintf("127.0.0.1:%d", DefaultPort+1), "HOST:PORT of the status page (/), /status JSON and /metrics; loopback only unless --admin-lan; \"off\" disables it")
	fs.StringVar(&c.Resolver, "resolver", "", "DNS server IP[:port] for neighbour host names (Android has no /etc/resolv.conf)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error; no level logs blob bodies, mailbox tags or client addresses")
	fs.StringVar(&c.ReadyFile, "ready-file", "", "write the bound addresses and fingerprint as JSON to this file once serving (for scripts and tests)")
	fs.Int64Var(&c.MaxStore, "max-store", 1<<30, "cap on cached blob bytes, shared fairly: when full, the largest sources lose their soonest-expiring blobs first (1 GiB fits a Pi's SD card)")
	fs.Int64Var(&c.MailboxBytes, "mailbox-quota", 64<<20, "cap on bytes cached per mailbox tag; all untagged blobs together get the same cap")
	fs.IntVar(&c.MaxBlob, "max-blob", echo.DefaultMaxBlob, "largest blob in bytes (2 MiB: a McEliece public key of 1,044,992 B must fit)")
	fs.DurationVar(&c.MaxTTL, "max-ttl", echo.DefaultMaxTTL, "longest lifetime a blob may ask for (30 days: 14 proved too short for Session's users)")
	fs.BoolVar(&c.NoTCP, "no-tcp", false, "listen on QUIC only, not on TCP+TLS")
	fs.DurationVar(&c.CommitDelay, "commit-delay", store.DefaultCommitDelay, "group-commit window: one fsync covers the blobs arriving meanwhile; 0 commits at once\n(lower latency, more fsyncs and disk writes per blob; acks stay durable either way)")
	fs.DurationVar(&c.FsyncEvery, "fsync-every", 0, "0: fsync every blob before acknowledging it (the default). D > 0: acknowledge once written and\nfsync at most D later: fewer disk writes for blobs that arrive one at a time (SD cards), but a\npower cut loses up to D of acknowledged blobs (a crash of the relay alone loses none)")
	fs.DurationVar(&c.ReconcileEvery, "reconcile-every", peers.DefaultReconcileEvery, "how often to reconcile caches with each neighbour (also done when a link comes up); 0 never reconciles\n(10m: floods deliver nearly everything, this repairs dropped floods cheaply)")
	c.Abuse.register(fs)
	fs.StringVar(&c.EchoListen, "echo-listen", "", "accept links from Echo relays (Spot-On, Spot-On-Lite, SmokeStack) on `[echo+tcp://|echo+tls://]HOST:PORT`; anyone who reaches it may flood, as in Echo")
	fs.DurationVar(&c.EchoTTL, "echo-ttl", peers.DefaultEchoTTL, "lifetime of blobs bridged from Echo links, which carry no expiry of their own")
	fs.StringVar(&c.Pprof, "pprof", "", "debugging: serve Go's net/http/pprof profiles on this loopback HOST:PORT (off by default; only in a developer build: go build -tags pprof ./cmd/echorelay)")
	// Operator experience (config.go, admin.go). Every flag above and below is also a key of the
	// config file; validation ranges are in serveChecks.
	fs.StringVar(&c.Config, "config", "", "config file of key = value lines whose keys are these flag names; flags win over it (default DATA/"+ConfigFileName+" if present)")
	fs.BoolVar(&c.PrintConfig, "print-config", false, "print the effective configuration (defaults, config file, flags) in the config file format and exit")
	fs.StringVar(&c.Name, "name", defaultRelayName(), "the relay's name on its status page and in /metrics (the host name unless set)")
	fs.BoolVar(&c.AdminLAN, "admin-lan", false, "allow --admin on a non-loopback address; every request then needs the admin token")
	fs.StringVar(&c.AdminToken, "admin-token", "", "token for a LAN status page (?token= or Authorization: Bearer); default: generated once into DATA/admin.token")
	fs.BoolVar(&c.AdminShowAddrs, "admin-show-addresses", false, "show neighbour addresses on the status page; off by default so that a screenshot shows no IP address")
	fs.DurationVar(&c.HistoryInterval, "history-interval", time.Minute, "sampling step of the status page's graphs; 60 samples are kept (1m: the last hour)")
	return fs
}

// loadServeConfig applies defaults, the config file and the flags, in that order, and checks
// the result.
func loadServeConfig(args []string) (serveConfig, *flag.FlagSet, configSources, error) {
	var c serveConfig
	fs := serveFlags(&c)
	src, err := applyConfig(fs, args, &c.Config, func() string { return c.Data })
	if err != nil {
		return c, fs, src, err
	}
	if fs.NArg() > 0 {
		return c, fs, src, userErr("serve takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	if c.Peers == "" {
		c.Peers = filepath.Join(c.Data, "peers")
	}
	if src.Of("mailbox-quota") == "default" {
		c.MailboxBytes = min(c.MailboxBytes, c.MaxStore) // a small cache lowers the default quota
	}
	if err := validate(fs, &c, src); err != nil {
		return c, fs, src, err
	}
	return c, fs, src, c.Abuse.check() // serve_abuse.go; serveChecks names the keys first
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, userErr("use debug, info, warn or error", "unknown --log-level %q", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func serve(c serveConfig) error {
	log, err := newLogger(c.LogLevel)
	if err != nil {
		return err
	}
	if err := resolve.Setup(c.Resolver); err != nil {
		return userErr("give an IP address, optionally with :port, e.g. 9.9.9.9", "--resolver: %s", err)
	}
	if c.Pprof != "" {
		stopPprof, err := startPprof(c.Pprof)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: the collector works harder as the heap nears it instead of letting it
		// double, so the links' memory budget (peers/budget.go) stays within a Pi Zero's share.
		debug.SetMemoryLimit(softMemoryLimit)
	}

	id, err := peers.LoadOrCreateIdentity(c.Data)
	if err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(c.Data, "cache.db"), store.Options{
		MaxBytes: c.MaxStore, MaxMailboxBytes: c.MailboxBytes, Logger: log.With("part", "store"),
		CommitDelay: commitDelay(c.CommitDelay),
		SyncEvery:   c.FsyncEvery,
	})
	if err != nil {
		return fmt.Errorf("failed to open cache: %w", err)
	}
	defer st.Close() // after the node stopped: in-flight writes finish first
	if now := time.Now(); now.Before(admin.ClockFloor) {
		log.Warn("this computer's clock is wrong: blobs will be refused as too far ahead until it is set (NTP, or date -s)", "clock", now.UTC().Format(time.DateTime))
	}
	if c.FsyncEvery > 0 {
		log.Info("blobs are acknowledged before their fsync (--fsync-every): a power cut can lose those of the last interval", "fsync_every", c.FsyncEvery)
	}
	limits := echo.DefaultLimits()
	limits.MaxBlob, limits.MaxTTL = c.MaxBlob, c.MaxTTL
	relay := echo.NewRelay(echo.Config{Store: relaystore.New(st), Set: relaystore.New(st), Limits: limits, Logger: log.With("part", "relay")})
	reconcileEvery := c.ReconcileEvery
	if reconcileEvery == 0 {
		reconcileEvery = -1 // peers: negative is off
	}
	pcfg := peers.Config{Identity: id, Relay: relay, Listen: c.Listen, Logger: log.With("part", "peers"), NoTCP: c.NoTCP,
		ReconcileEvery: reconcileEvery, EchoListen: c.EchoListen, EchoTTL: c.EchoTTL}
	c.Abuse.apply(&pcfg)
	node, err := peers.New(pcfg)
	if err != nil {
		return err
	}
	pf := &peersFileState{path: c.Peers}
	ps, err := pf.load(time.Now())
	if err != nil {
		node.Close()
		return userErr("each line is `host:port [fingerprint]`, # starts a comment", "%s", err)
	}
	node.SetPeers(ps)

	adminAddr, stopAdmin, err := startAdmin(ctx, c, &admin.Collector{Node: node, Relay: relay, Store: st, Started: time.Now(), PeersFile: pf.view}, log)
	if err != nil {
		node.Close()
		return err
	}
	defer stopAdmin()
	// SIGHUP re-reads the peers file. Caught before the ready file says the relay serves: a
	// SIGHUP before signal.Notify would end the process (Go's default for it).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	host, _, _ := net.SplitHostPort(c.Listen)
	listen := net.JoinHostPort(host, fmt.Sprint(node.Port()))
	log.Info("relay listening", "addr", listen, "tcp", !c.NoTCP, "fingerprint", id.Fingerprint, "data", c.Data,
		"peers", c.Peers, "neighbours", len(ps), "admin", adminAddr, "version", version)
	if c.ReadyFile != "" {
		b, _ := json.Marshal(map[string]any{"listen": listen, "port": node.Port(), "admin": adminAddr, "fingerprint": id.Fingerprint, "pid": os.Getpid(), "echo": node.EchoAddr()})
		if err := os.WriteFile(c.ReadyFile+".tmp", b, 0o644); err == nil {
			os.Rename(c.ReadyFile+".tmp", c.ReadyFile)
		}
	}

	reconcileOnSignal(ctx, node, log)
	go memtrim.Default.Run(ctx, func() int64 {
		s := relay.Snapshot()
		return s.Received + s.Relayed + s.Duplicates + int64(s.Neighbours) + int64(st.Stats().Commits)
	}, func() {
		debug.FreeOSMemory()
		log.Debug("idle: memory returned to the system", "binary_bytes_unmapped", memtrim.ReleaseBinaryPages())
	})
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	for {
		select {
		case <-hup:
			ps, err := pf.load(time.Now())
			if err != nil {
				log.Error("peers file not reloaded, keeping the old list", "err", err)
				continue
			}
			node.SetPeers(ps)
			log.Info("peers file reloaded", "neighbours", len(ps))
		case err := <-done:
			log.Info("relay stopping: finishing cache writes")
			return err
		}
	}
}

// commitDelay maps --commit-delay to store.Options, where 0 means the default and a negative
// window commits what is queued without waiting.
func commitDelay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
