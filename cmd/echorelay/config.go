package main

// The config file.
//
// `echorelay serve` has one table of options: its flag set. Every long flag name is also a key
// of the optional config file, so a flag added to cmdServe is a config key without further work
// and --print-config shows it. The file is a tiny TOML-like subset:
//
//	# a comment
//	max-store = 2147483648     # a trailing comment after whitespace
//	name = "classroom relay"   # quotes keep spaces and '#'; Go string escapes apply
//	no-tcp = true
//
// Precedence: flags > file > built-in defaults. The file is --config FILE, else DATA/echorelay.conf
// when it exists (DATA from --data or the default data dir). After parsing, every value is checked
// against the table serveChecks; a bad value stops the relay with the key and the accepted range.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/echorelay/echorelay/echo"
)

// ConfigFileName is the config file looked for in the data dir when --config is not given.
const ConfigFileName = "echorelay.conf"

// notInFile are flags that make no sense as config keys.
var notInFile = map[string]bool{"config": true, "print-config": true}

// secretKeys are never printed by --print-config.
var secretKeys = map[string]bool{"admin-token": true}

// configLine is one `key = value` line.
type configLine struct {
	key, value string
	line       int
}

// parseConfig reads `key = value` lines. It checks the syntax only; keys are checked by the caller.
func parseConfig(r io.Reader) ([]configLine, error) {
	var out []configLine
	seen := map[string]int{}
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: want `key = value`", n)
		}
		for _, r := range k {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				return nil, fmt.Errorf("line %d: %q is not a key (keys are the long flag names, e.g. max-store)", n, k)
			}
		}
		val, err := parseConfigValue(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n, k, err)
		}
		if prev, dup := seen[k]; dup {
			return nil, fmt.Errorf("line %d: %s is already set on line %d", n, k, prev)
		}
		seen[k] = n
		out = append(out, configLine{key: k, value: val, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read: %w", err)
	}
	return out, nil
}

// parseConfigValue takes a quoted Go string, or bare text up to a " #" comment.
func parseConfigValue(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		q, err := strconv.QuotedPrefix(v)
		if err != nil {
			return "", errors.New("unterminated or malformed quoted value")
		}
		rest := strings.TrimSpace(v[len(q):])
		if rest != "" && rest[0] != '#' {
			return "", fmt.Errorf("unexpected %q after the quoted value", rest)
		}
		s, _ := strconv.Unquote(q)
		return s, nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '#' && (i == 0 || v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	return strings.TrimSpace(v), nil
}

// formatConfigValue quotes a value when bare text would not read back the same.
func formatConfigValue(v string) string {
	if v == "" || v != strings.TrimSpace(v) || strings.ContainsAny(v, "#\"\n\r") || strings.HasPrefix(v, `"`) {
		return strconv.Quote(v)
	}
	return v
}

// configSources records where each key's value came from, for --print-config and messages.
type configSources struct {
	file string            // the file read, "" if none
	from map[string]string // key -> "flag", "FILE:LINE"; missing = default
}

func (s configSources) of(key string) string {
	if f, ok := s.from[key]; ok {
		return f
	}
	return "default"
}

// applyConfig parses args into fs, then fills every key not given as a flag from the config
// file. configPath is the --config value ("" for DATA/echorelay.conf if present); dataDir
// returns the data dir after the flags are parsed.
func applyConfig(fs *flag.FlagSet, args []string, configPath *string, dataDir func() string) (configSources, error) {
	src := configSources{from: map[string]string{}}
	if err := parseFlags(fs, args); err != nil {
		return src, err
	}
	fs.Visit(func(f *flag.Flag) { src.from[f.Name] = "flag --" + f.Name })
	path, explicit := *configPath, *configPath != ""
	if !explicit {
		path = filepath.Join(dataDir(), ConfigFileName)
	}
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return src, nil
		}
		return src, userErr("check the path given to --config", "failed to open config file: %s", err)
	}
	defer f.Close()
	lines, err := parseConfig(f)
	if err != nil {
		return src, userErr("see echorelay.conf.example: `key = value` lines, # starts a comment", "%s: %s", path, err)
	}
	src.file = path
	for _, l := range lines {
		fl := fs.Lookup(l.key)
		if fl == nil || notInFile[l.key] {
			return src, userErr("keys are the long flag names listed by `echorelay serve --help`",
				"%s:%d: unknown key %q", path, l.line, l.key)
		}
		if l.key == "data" && !explicit {
			return src, userErr("give the file with --config to move the data directory",
				"%s:%d: data cannot be set in the config file inside the data directory", path, l.line)
		}
		if _, byFlag := src.from[l.key]; byFlag {
			continue // flags win over the file
		}
		if err := fs.Set(l.key, l.value); err != nil {
			return src, userErr(fmt.Sprintf("the flag --%s takes the same values: %s", l.key, fl.Usage),
				"%s:%d: %s = %s: %s", path, l.line, l.key, l.value, plainSetError(fl, err))
		}
		src.from[l.key] = fmt.Sprintf("%s:%d", path, l.line)
	}
	return src, nil
}

// plainSetError says what a flag value should look like, by the flag's type.
func plainSetError(fl *flag.Flag, err error) string {
	if strings.Contains(err.Error(), "out of range") {
		return "out of range"
	}
	if g, ok := fl.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case int, int64, uint, uint64:
			return "not a whole number"
		case float64:
			return "not a number"
		case time.Duration:
			return "not a duration (e.g. 90s, 30m, 720h)"
		case bool:
			return "not true or false"
		}
	}
	return err.Error()
}

// printConfig writes the effective configuration in the config file's format.
func printConfig(w io.Writer, fs *flag.FlagSet, src configSources) {
	fmt.Fprintf(w, "# effective configuration of echorelay %s serve\n", version)
	if src.file != "" {
		fmt.Fprintf(w, "# config file: %s\n", src.file)
	} else {
		fmt.Fprintf(w, "# config file: none (looked for DATA/%s)\n", ConfigFileName)
	}
	fmt.Fprintf(w, "# precedence: flags > config file > defaults\n\n")
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !notInFile[f.Name] {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	lines := make([]string, len(names))
	width := 0
	for i, n := range names {
		lines[i] = n + " = " + formatConfigValue(fs.Lookup(n).Value.String())
		width = max(width, len(lines[i]))
	}
	for i, n := range names {
		if secretKeys[n] {
			if fs.Lookup(n).Value.String() != "" {
				fmt.Fprintf(w, "# %s is set (%s), not shown\n", n, src.of(n))
			} else {
				fmt.Fprintf(w, "# %s is not set\n", n)
			}
			continue
		}
		fmt.Fprintf(w, "%-*s  # %s\n", width, lines[i], src.of(n))
	}
}

// check is one row of the validation table: ok returns "" when the value is accepted, else the
// accepted range in words ("between 1024 and 67108864").
type check struct {
	key string
	ok  func(c *serveConfig) string
}

// serveChecks validate the effective configuration; one row per key with limits.
var serveChecks = []check{
	{"max-blob", func(c *serveConfig) string { return intBetween(int64(c.MaxBlob), 1024, 64<<20) }},
	{"max-ttl", func(c *serveConfig) string { return durBetween(c.MaxTTL, time.Minute, 365*24*time.Hour) }},
	{"max-store", func(c *serveConfig) string { return intBetween(c.MaxStore, 4096, 1<<50) }},
	{"mailbox-quota", func(c *serveConfig) string {
		if c.MailboxBytes < 1024 || c.MailboxBytes > c.MaxStore {
			return fmt.Sprintf("between 1024 and max-store (%d)", c.MaxStore)
		}
		return ""
	}},
	{"log-level", func(c *serveConfig) string {
		switch strings.ToLower(c.LogLevel) {
		case "debug", "info", "warn", "error":
			return ""
		}
		return "one of debug, info, warn, error"
	}},
	{"listen", func(c *serveConfig) string { return hostPort(c.Listen, false) }},
	{"admin", func(c *serveConfig) string { return hostPort(c.Admin, true) }},
	{"admin-token", func(c *serveConfig) string {
		if c.AdminToken == "" {
			return ""
		}
		for _, r := range c.AdminToken {
			if r <= ' ' || r > '~' {
				return "printable ASCII without spaces, at least 16 characters"
			}
		}
		return intBetween(int64(len(c.AdminToken)), 16, 256)
	}},
	{"reconcile-every", func(c *serveConfig) string {
		if c.ReconcileEvery != 0 && (c.ReconcileEvery < 100*time.Millisecond || c.ReconcileEvery > 24*time.Hour) {
			return "0 (off) or a duration between 100ms and 24h"
		}
		return ""
	}},
	{"stamp-bits", func(c *serveConfig) string { return intBetween(int64(c.Abuse.StampBits), 0, echo.MaxStampBits) }},
	{"rate-submits", func(c *serveConfig) string { return notNegative(c.Abuse.RateSubmits) }},
	{"rate-fetches", func(c *serveConfig) string { return notNegative(c.Abuse.RateFetches) }},
	{"rate-bytes", func(c *serveConfig) string { return notNegative(float64(c.Abuse.RateBytes)) }},
	{"rate-neighbour", func(c *serveConfig) string { return notNegative(c.Abuse.RateNeighbour) }},
	{"max-conns", func(c *serveConfig) string { return intBetween(int64(c.Abuse.MaxConns), 1, 1<<20) }},
	{"max-conns-per-ip", func(c *serveConfig) string { return intBetween(int64(c.Abuse.MaxConnsPerIP), 0, 1<<20) }},
	{"echo-ttl", func(c *serveConfig) string { return durBetween(c.EchoTTL, time.Minute, 365*24*time.Hour) }}, // capped at max-ttl when used
	{"echo-listen", func(c *serveConfig) string {
		if c.EchoListen == "" {
			return ""
		}
		a := strings.TrimPrefix(strings.TrimPrefix(c.EchoListen, "echo+tls://"), "echo+tcp://")
		if hostPort(a, false) != "" {
			return "empty (off) or [echo+tcp://|echo+tls://]HOST:PORT"
		}
		return ""
	}},
	{"commit-delay", func(c *serveConfig) string { return durBetween(c.CommitDelay, 0, time.Second) }},
	{"fsync-every", func(c *serveConfig) string { return durBetween(c.FsyncEvery, 0, 10*time.Second) }},
	{"history-interval", func(c *serveConfig) string { return durBetween(c.HistoryInterval, time.Second, 10*time.Minute) }},
	{"name", func(c *serveConfig) string {
		if len([]rune(c.Name)) > 64 || strings.IndexFunc(c.Name, unicode.IsControl) >= 0 {
			return "at most 64 characters on one line"
		}
		return ""
	}},
}

func intBetween(v, lo, hi int64) string {
	if v < lo || v > hi {
		return fmt.Sprintf("between %d and %d", lo, hi)
	}
	return ""
}

func notNegative(v float64) string {
	if v < 0 || v != v {
		return "0 (off) or a positive number"
	}
	return ""
}

func durBetween(v, lo, hi time.Duration) string {
	if v < lo || v > hi {
		return fmt.Sprintf("a duration between %s and %s", shortDur(lo), shortDur(hi))
	}
	return ""
}

// shortDur prints 1m and 8760h rather than 1m0s and 8760h0m0s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func hostPort(v string, offOK bool) string {
	want := "HOST:PORT with a port from 0 to 65535"
	if offOK {
		if v == "off" {
			return ""
		}
		want += `, or "off"`
	}
	_, p, err := net.SplitHostPort(v)
	if err != nil {
		return want
	}
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return want
	}
	return ""
}

// validate runs serveChecks and the admin exposure rule.
func validate(fs *flag.FlagSet, c *serveConfig, src configSources) error {
	for _, ch := range serveChecks {
		if fs.Lookup(ch.key) == nil {
			continue
		}
		if want := ch.ok(c); want != "" {
			v := fs.Lookup(ch.key).Value.String()
			if secretKeys[ch.key] {
				v = "(hidden)"
			}
			return userErr(fmt.Sprintf("%s comes from %s; run `echorelay serve --help` for what it means", ch.key, src.of(ch.key)),
				"%s = %s: must be %s", ch.key, v, want)
		}
	}
	if c.Admin != "off" && !c.AdminLAN && !isLoopbackHost(c.Admin) {
		return userErr("add --admin-lan to serve the status page to the network (it then asks for a token), or keep 127.0.0.1 and use `ssh -L 7789:127.0.0.1:7789`",
			"admin = %s would show the status page to the network", c.Admin)
	}
	return nil
}
