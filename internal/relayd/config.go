package relayd

import (
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/config"
	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/peers"
)

// DefaultPort is the relay's port for QUIC (UDP) and TCP+TLS; the admin page listens on the next.
const DefaultPort = 7788

// softMemoryLimit is the Go runtime's soft memory limit for a relay (GOMEMLIMIT overrides
// it): the budget for peak RSS is 64 MB, of which about 15 MB are the binary's pages, and
// the links' memory budget (peers/budget.go) is 24 MiB + 4 MiB of slack.
const softMemoryLimit = 40 << 20

// Config is everything a relay is started with: cmd/echorelay fills it from flags and the
// config file (whose keys are the flag names) and validates it with Checks.
type Config struct {
	Data, Listen, Peers, Admin, Resolver, LogLevel, ReadyFile string
	MaxStore, MailboxBytes                                    int64
	MaxBlob                                                   int
	MaxTTL                                                    time.Duration
	NoTCP                                                     bool
	ReconcileEvery                                            time.Duration // 0 never reconciles
	Abuse                                                     Abuse
	Pprof                                                     string        // loopback address for net/http/pprof, "" = off; -tags pprof builds only
	CommitDelay                                               time.Duration // the store's group-commit window; 0 commits at once
	FsyncEvery                                                time.Duration // store.Options.SyncEvery; 0 = fsync before every ack
	Name, AdminToken                                          string
	AdminLAN, AdminShowAddrs                                  bool
	HistoryInterval                                           time.Duration
	EchoListen                                                string        // Echo interop listener
	EchoTTL                                                   time.Duration // lifetime of bridged Echo data
	Version                                                   string        // shown on the status page
	Web, WebCert, WebKey                                      string        // the web client's listener ("" next to the relay, "off") and https files (relayd/web.go)
}

// Abuse holds a relay's abuse limits (PROTOCOL.md section 9, peers/limits.go).
type Abuse struct {
	RateSubmits, RateNeighbour         float64
	RateFetches                        float64
	RateBytes                          int64
	StampBits, MaxConns, MaxConnsPerIP int
}

// Check refuses limits out of range.
func (a *Abuse) Check() error {
	if a.StampBits < 0 || a.StampBits > echo.MaxStampBits {
		return hint.New("use 0 (no stamps) to 32; 16 costs a phone well under a second", "--stamp-bits %d is out of range", a.StampBits)
	}
	if a.RateSubmits < 0 || a.RateBytes < 0 || a.RateNeighbour < 0 || a.RateFetches < 0 {
		return hint.New("use a positive rate, or 0 to disable the limit", "rates must not be negative")
	}
	if a.MaxConns < 1 || a.MaxConnsPerIP < 0 {
		return hint.New("use --max-conns of at least 1 and --max-conns-per-ip of 0 (off) or more", "connection caps out of range")
	}
	return nil
}

// apply sets the node's abuse limits.
func (a *Abuse) apply(c *peers.Config) {
	c.Rates = peers.RateLimits{
		SubmitsPerSec: a.RateSubmits, SubmitBurst: int(5*a.RateSubmits + 0.5),
		BytesPerSec: float64(a.RateBytes), BytesBurst: 16 * a.RateBytes,
		NeighbourBlobs: a.RateNeighbour, NeighbourBurst: int(5*a.RateNeighbour + 0.5),
		FetchesPerSec: a.RateFetches, FetchBurst: int(5*a.RateFetches + 0.5),
	}
	c.StampBits = uint8(a.StampBits)
	c.MaxConns = a.MaxConns
	c.MaxConnsPerIP = a.MaxConnsPerIP
	if a.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = -1
	}
}

// CheckExposure refuses a status page on the network unless AdminLAN says it is meant.
func (c *Config) CheckExposure() error {
	if c.Admin != "off" && !c.AdminLAN && !IsLoopbackHost(c.Admin) {
		return hint.New("add --admin-lan to serve the status page to the network (it then asks for a token), or keep 127.0.0.1 and use `ssh -L 7789:127.0.0.1:7789`",
			"admin = %s would show the status page to the network", c.Admin)
	}
	return nil
}

// IsLoopbackHost reports whether HOST:PORT names only the loopback interface.
func IsLoopbackHost(hostport string) bool {
	_, _, err := net.SplitHostPort(hostport)
	return err == nil && admin.LoopbackHost(hostport)
}

// Checks validate a Config; one row per config key with limits.
var Checks = []config.Check[Config]{
	{Key: "max-blob", OK: func(c *Config) string { return config.IntBetween(int64(c.MaxBlob), 1024, 64<<20) }},
	{Key: "max-ttl", OK: func(c *Config) string { return config.DurBetween(c.MaxTTL, time.Minute, 365*24*time.Hour) }},
	{Key: "max-store", OK: func(c *Config) string { return config.IntBetween(c.MaxStore, 4096, 1<<50) }},
	{Key: "mailbox-quota", OK: func(c *Config) string {
		if c.MailboxBytes < 1024 || c.MailboxBytes > c.MaxStore {
			return fmt.Sprintf("between 1024 and max-store (%d)", c.MaxStore)
		}
		return ""
	}},
	{Key: "log-level", OK: func(c *Config) string {
		switch strings.ToLower(c.LogLevel) {
		case "debug", "info", "warn", "error":
			return ""
		}
		return "one of debug, info, warn, error"
	}},
	{Key: "listen", OK: func(c *Config) string { return config.HostPort(c.Listen, false) }},
	{Key: "admin", OK: func(c *Config) string { return config.HostPort(c.Admin, true) }},
	{Key: "web", OK: func(c *Config) string {
		if c.Web == "" {
			return ""
		}
		return config.HostPort(c.Web, true)
	}},
	{Key: "admin-token", OK: func(c *Config) string {
		if c.AdminToken == "" {
			return ""
		}
		for _, r := range c.AdminToken {
			if r <= ' ' || r > '~' {
				return "printable ASCII without spaces, at least 16 characters"
			}
		}
		return config.IntBetween(int64(len(c.AdminToken)), 16, 256)
	}},
	{Key: "reconcile-every", OK: func(c *Config) string {
		if c.ReconcileEvery != 0 && (c.ReconcileEvery < 100*time.Millisecond || c.ReconcileEvery > 24*time.Hour) {
			return "0 (off) or a duration between 100ms and 24h"
		}
		return ""
	}},
	{Key: "stamp-bits", OK: func(c *Config) string { return config.IntBetween(int64(c.Abuse.StampBits), 0, echo.MaxStampBits) }},
	{Key: "rate-submits", OK: func(c *Config) string { return config.NotNegative(c.Abuse.RateSubmits) }},
	{Key: "rate-fetches", OK: func(c *Config) string { return config.NotNegative(c.Abuse.RateFetches) }},
	{Key: "rate-bytes", OK: func(c *Config) string { return config.NotNegative(float64(c.Abuse.RateBytes)) }},
	{Key: "rate-neighbour", OK: func(c *Config) string { return config.NotNegative(c.Abuse.RateNeighbour) }},
	{Key: "max-conns", OK: func(c *Config) string { return config.IntBetween(int64(c.Abuse.MaxConns), 1, 1<<20) }},
	{Key: "max-conns-per-ip", OK: func(c *Config) string { return config.IntBetween(int64(c.Abuse.MaxConnsPerIP), 0, 1<<20) }},
	{Key: "echo-ttl", OK: func(c *Config) string { return config.DurBetween(c.EchoTTL, time.Minute, 365*24*time.Hour) }}, // capped at max-ttl when used
	{Key: "echo-listen", OK: func(c *Config) string {
		if c.EchoListen == "" {
			return ""
		}
		a := strings.TrimPrefix(strings.TrimPrefix(c.EchoListen, "echo+tls://"), "echo+tcp://")
		if config.HostPort(a, false) != "" {
			return "empty (off) or [echo+tcp://|echo+tls://]HOST:PORT"
		}
		return ""
	}},
	{Key: "commit-delay", OK: func(c *Config) string { return config.DurBetween(c.CommitDelay, 0, time.Second) }},
	{Key: "fsync-every", OK: func(c *Config) string { return config.DurBetween(c.FsyncEvery, 0, 10*time.Second) }},
	{Key: "history-interval", OK: func(c *Config) string { return config.DurBetween(c.HistoryInterval, time.Second, 10*time.Minute) }},
	{Key: "name", OK: func(c *Config) string {
		if len([]rune(c.Name)) > 64 || strings.IndexFunc(c.Name, unicode.IsControl) >= 0 {
			return "at most 64 characters on one line"
		}
		return ""
	}},
}
