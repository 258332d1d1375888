package main

// The serve command's config file (internal/config reads it): every long flag name of
// serveFlags is also a key of the optional file DATA/echorelay.conf (or --config FILE), and
// after parsing every value is checked against serveChecks; a bad value stops the relay with
// the key and the accepted range.

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/config"
)

// ConfigFileName is the config file looked for in the data dir when --config is not given.
const ConfigFileName = "echorelay.conf"

// configSources records where each key's value came from.
type configSources = config.Sources

// configRules: --config and --print-config are no keys; the token is never printed; the data
// dir cannot be moved by the file that lives in it.
var configRules = config.Rules{
	NotInFile: map[string]bool{"config": true, "print-config": true},
	Secret:    map[string]bool{"admin-token": true},
	Explicit:  map[string]string{"data": "give the file with --config to move the data directory"},
}

// applyConfig parses args into fs, then fills every key not given as a flag from the config
// file: configPath is the --config value ("" for DATA/echorelay.conf if present); dataDir
// returns the data dir after the flags are parsed.
func applyConfig(fs *flag.FlagSet, args []string, configPath *string, dataDir func() string) (configSources, error) {
	if err := parseFlags(fs, args); err != nil {
		return configSources{From: map[string]string{}}, err
	}
	path, explicit := *configPath, *configPath != ""
	if !explicit {
		path = filepath.Join(dataDir(), ConfigFileName)
	}
	return config.Apply(fs, path, explicit, configRules)
}

// printConfig writes the effective configuration in the config file's format.
func printConfig(w io.Writer, fs *flag.FlagSet, src configSources) {
	file := "config file: none (looked for DATA/" + ConfigFileName + ")"
	if src.File != "" {
		file = "config file: " + src.File
	}
	config.Print(w, fs, src, configRules, "effective configuration of echorelay "+version+" serve", file, "precedence: flags > config file > defaults")
}

// serveChecks validate the effective configuration; one row per key with limits.
var serveChecks = []config.Check[serveConfig]{
	{Key: "max-blob", OK: func(c *serveConfig) string { return config.IntBetween(int64(c.MaxBlob), 1024, 64<<20) }},
	{Key: "max-ttl", OK: func(c *serveConfig) string { return config.DurBetween(c.MaxTTL, time.Minute, 365*24*time.Hour) }},
	{Key: "max-store", OK: func(c *serveConfig) string { return config.IntBetween(c.MaxStore, 4096, 1<<50) }},
	{Key: "mailbox-quota", OK: func(c *serveConfig) string {
		if c.MailboxBytes < 1024 || c.MailboxBytes > c.MaxStore {
			return fmt.Sprintf("between 1024 and max-store (%d)", c.MaxStore)
		}
		return ""
	}},
	{Key: "log-level", OK: func(c *serveConfig) string {
		switch strings.ToLower(c.LogLevel) {
		case "debug", "info", "warn", "error":
			return ""
		}
		return "one of debug, info, warn, error"
	}},
	{Key: "listen", OK: func(c *serveConfig) string { return config.HostPort(c.Listen, false) }},
	{Key: "admin", OK: func(c *serveConfig) string { return config.HostPort(c.Admin, true) }},
	{Key: "admin-token", OK: func(c *serveConfig) string {
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
	{Key: "reconcile-every", OK: func(c *serveConfig) string {
		if c.ReconcileEvery != 0 && (c.ReconcileEvery < 100*time.Millisecond || c.ReconcileEvery > 24*time.Hour) {
			return "0 (off) or a duration between 100ms and 24h"
		}
		return ""
	}},
	{Key: "stamp-bits", OK: func(c *serveConfig) string { return config.IntBetween(int64(c.Abuse.StampBits), 0, echo.MaxStampBits) }},
	{Key: "rate-submits", OK: func(c *serveConfig) string { return config.NotNegative(c.Abuse.RateSubmits) }},
	{Key: "rate-fetches", OK: func(c *serveConfig) string { return config.NotNegative(c.Abuse.RateFetches) }},
	{Key: "rate-bytes", OK: func(c *serveConfig) string { return config.NotNegative(float64(c.Abuse.RateBytes)) }},
	{Key: "rate-neighbour", OK: func(c *serveConfig) string { return config.NotNegative(c.Abuse.RateNeighbour) }},
	{Key: "max-conns", OK: func(c *serveConfig) string { return config.IntBetween(int64(c.Abuse.MaxConns), 1, 1<<20) }},
	{Key: "max-conns-per-ip", OK: func(c *serveConfig) string { return config.IntBetween(int64(c.Abuse.MaxConnsPerIP), 0, 1<<20) }},
	{Key: "echo-ttl", OK: func(c *serveConfig) string { return config.DurBetween(c.EchoTTL, time.Minute, 365*24*time.Hour) }}, // capped at max-ttl when used
	{Key: "echo-listen", OK: func(c *serveConfig) string {
		if c.EchoListen == "" {
			return ""
		}
		a := strings.TrimPrefix(strings.TrimPrefix(c.EchoListen, "echo+tls://"), "echo+tcp://")
		if config.HostPort(a, false) != "" {
			return "empty (off) or [echo+tcp://|echo+tls://]HOST:PORT"
		}
		return ""
	}},
	{Key: "commit-delay", OK: func(c *serveConfig) string { return config.DurBetween(c.CommitDelay, 0, time.Second) }},
	{Key: "fsync-every", OK: func(c *serveConfig) string { return config.DurBetween(c.FsyncEvery, 0, 10*time.Second) }},
	{Key: "history-interval", OK: func(c *serveConfig) string { return config.DurBetween(c.HistoryInterval, time.Second, 10*time.Minute) }},
	{Key: "name", OK: func(c *serveConfig) string {
		if len([]rune(c.Name)) > 64 || strings.IndexFunc(c.Name, unicode.IsControl) >= 0 {
			return "at most 64 characters on one line"
		}
		return ""
	}},
}

// validate runs serveChecks and the admin exposure rule.
func validate(fs *flag.FlagSet, c *serveConfig, src configSources) error {
	if err := config.Validate(fs, c, serveChecks, src, configRules); err != nil {
		return err
	}
	if c.Admin != "off" && !c.AdminLAN && !isLoopbackHost(c.Admin) {
		return userErr("add --admin-lan to serve the status page to the network (it then asks for a token), or keep 127.0.0.1 and use `ssh -L 7789:127.0.0.1:7789`",
			"admin = %s would show the status page to the network", c.Admin)
	}
	return nil
}
