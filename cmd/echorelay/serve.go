package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/config"
	"github.com/echorelay/echorelay/internal/relayd"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
)

func init() {
	register(command{"serve", "run a relay (QUIC and TCP+TLS, SQLite cache, neighbours from a peers file)", cmdServe})
}

// DefaultPort is the relay's port for QUIC (UDP) and TCP+TLS; the admin page listens on the next.
const DefaultPort = relayd.DefaultPort

// serveConfig is the relay's Config plus the two flags that are no config keys.
type serveConfig struct {
	relayd.Config
	ConfigFile  string // --config FILE
	PrintConfig bool
}

func cmdServe(args []string) error {
	c, fs, src, err := loadServeConfig(args)
	if err != nil {
		return err
	}
	if c.PrintConfig {
		relayd.PrintConfig(os.Stdout, fs, src, version)
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
	fs.StringVar(&c.Admin, "admin", admin.DefaultAddr, "HOST:PORT of the status page (/), /status JSON and /metrics; loopback only unless --admin-lan; \"off\" disables it")
	fs.StringVar(&c.Web, "web", "", "HOST:PORT of the web client (browsers chat through this relay); \"off\" disables it (default: the relay's host, its port + 2, e.g. 0.0.0.0:7790)")
	fs.StringVar(&c.WebCert, "web-cert", "", "serve the web client over https with this PEM certificate (with --web-key), or \"self\" for a self-signed one kept in DATA")
	fs.StringVar(&c.WebKey, "web-key", "", "PEM private key of --web-cert")
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
	a, d := &c.Abuse, peers.DefaultRateLimits()
	fs.Float64Var(&a.RateSubmits, "rate-submits", d.SubmitsPerSec, "client submissions per second per address, bursts of 5x; 0 disables (20/s serves a class of 30 behind one NAT)")
	fs.Float64Var(&a.RateFetches, "rate-fetches", d.FetchesPerSec, "client fetches and subscriptions per second per address, bursts of 5x; 0 disables")
	fs.Int64Var(&a.RateBytes, "rate-bytes", int64(d.BytesPerSec), "client blob bytes per second per address, bursts of 16x (at least one largest blob); 0 disables")
	fs.Float64Var(&a.RateNeighbour, "rate-neighbour", d.NeighbourBlobs, "blobs per second read from each neighbour link, bursts of 5x; above it the relay reads slower (no drops); 0 disables")
	fs.IntVar(&a.StampBits, "stamp-bits", 0, "proof-of-work cost (0..32 bits) asked of client submissions; echorelay put computes it; 0 asks none")
	fs.IntVar(&a.MaxConns, "max-conns", peers.DefaultMaxConns, "cap on concurrent connections, clients and neighbours together")
	fs.IntVar(&a.MaxConnsPerIP, "max-conns-per-ip", peers.DefaultMaxConnsPerIP, "cap on concurrent connections from one address (IPv6: one /64); 0 disables")
	fs.StringVar(&c.EchoListen, "echo-listen", "", "accept links from Echo relays (Spot-On, Spot-On-Lite, SmokeStack) on `[echo+tcp://|echo+tls://]HOST:PORT`; anyone who reaches it may flood, as in Echo")
	fs.DurationVar(&c.EchoTTL, "echo-ttl", peers.DefaultEchoTTL, "lifetime of blobs bridged from Echo links, which carry no expiry of their own")
	fs.StringVar(&c.Pprof, "pprof", "", "debugging: serve Go's net/http/pprof profiles on this loopback HOST:PORT (off by default; only in a developer build: go build -tags pprof ./cmd/echorelay)")
	// Operator experience (config.go, internal/relayd/admin.go). Every flag above and below is a key of the
	// config file; validation ranges are in relayd.Checks.
	fs.StringVar(&c.ConfigFile, "config", "", "config file of key = value lines whose keys are these flag names; flags win over it (default DATA/"+relayd.ConfigFileName+" if present)")
	fs.BoolVar(&c.PrintConfig, "print-config", false, "print the effective configuration (defaults, config file, flags) in the config file format and exit")
	fs.StringVar(&c.Name, "name", relayd.DefaultName(), "the relay's name on its status page and in /metrics (the host name unless set)")
	fs.BoolVar(&c.AdminLAN, "admin-lan", false, "allow --admin on a non-loopback address; every request then needs the admin token")
	fs.StringVar(&c.AdminToken, "admin-token", "", "token for a LAN status page (?token= or Authorization: Bearer); default: generated once into DATA/admin.token")
	fs.BoolVar(&c.AdminShowAddrs, "admin-show-addresses", false, "show neighbour addresses on the status page; off by default so that a screenshot shows no IP address")
	fs.DurationVar(&c.HistoryInterval, "history-interval", time.Minute, "sampling step of the status page's graphs; 60 samples are kept (1m: the last hour)")
	return fs
}

// loadServeConfig applies defaults, the config file and the flags, in that order, and checks
// the result (relayd.LoadConfig).
func loadServeConfig(args []string) (serveConfig, *flag.FlagSet, config.Sources, error) {
	var c serveConfig
	fs := serveFlags(&c)
	if err := parseFlags(fs, args); err != nil {
		return c, fs, config.Sources{From: map[string]string{}}, err
	}
	src, err := relayd.LoadConfig(fs, &c.Config, c.ConfigFile)
	return c, fs, src, err
}

// serve runs the relay until SIGINT or SIGTERM; SIGHUP re-reads the peers file and SIGUSR1
// reconciles with the neighbours now (`kill -USR1 $(pidof echorelay)` after an outage).
func serve(c serveConfig) error {
	log, err := newLogger(c.LogLevel, os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Caught before the ready file says the relay serves: a SIGHUP before signal.Notify would
	// end the process (Go's default for it).
	hup, usr1 := make(chan os.Signal, 1), make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(hup)
	defer signal.Stop(usr1)
	c.Version = version
	return relayd.Serve(ctx, c.Config, log, relayd.Signals{Reload: hup, Reconcile: usr1})
}
