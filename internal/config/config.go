// Package config reads a command's optional config file: `key = value` lines whose keys are
// the long names of the command's flag set, so that a flag added to the set is a config key
// without further work and Print shows it.
//
// The file is a tiny TOML-like subset:
//
//	# a comment
//	max-store = 2147483648     # a trailing comment after whitespace
//	name = "classroom relay"   # quotes keep spaces and '#'; Go string escapes apply
//	no-tcp = true
//
// Precedence: flags > file > built-in defaults. Values are checked by the flag's own Set and
// then by a table of Checks, each of which names the accepted range in words. Errors a user
// can fix carry a hint (internal/hint). The package reads the file it is given and nothing
// else; which file that is (echorelay's DATA/echorelay.conf) is the caller's choice.
package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/echorelay/echorelay/internal/hint"
)

// Line is one `key = value` line.
type Line struct {
	Key, Value string
	Line       int
}

// maxFile bounds what Parse reads: a config file is a few hundred bytes.
const maxFile = 1 << 20

// Parse reads `key = value` lines. It checks the syntax only; keys are checked by Apply.
func Parse(r io.Reader) ([]Line, error) {
	var out []Line
	seen := map[string]int{}
	sc := bufio.NewScanner(io.LimitReader(r, maxFile))
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
		val, err := ParseValue(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n, k, err)
		}
		if prev, dup := seen[k]; dup {
			return nil, fmt.Errorf("line %d: %s is already set on line %d", n, k, prev)
		}
		seen[k] = n
		out = append(out, Line{Key: k, Value: val, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read: %w", err)
	}
	return out, nil
}

// ParseValue takes a quoted Go string, or bare text up to a " #" comment.
func ParseValue(v string) (string, error) {
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

// FormatValue quotes a value when bare text would not read back the same.
func FormatValue(v string) string {
	if v == "" || v != strings.TrimSpace(v) || strings.ContainsAny(v, "#\"\n\r") || strings.HasPrefix(v, `"`) {
		return strconv.Quote(v)
	}
	return v
}

// Sources records where each key's value came from, for Print and for messages.
type Sources struct {
	File string            // the file read, "" if none
	From map[string]string // key -> "flag --KEY" or "FILE:LINE"; missing = default
}

// Of says where key's value came from: "flag --KEY", "FILE:LINE" or "default".
func (s Sources) Of(key string) string {
	if f, ok := s.From[key]; ok {
		return f
	}
	return "default"
}

// Rules say which flags the file may not set.
type Rules struct {
	NotInFile map[string]bool   // flags that are no config keys (--config itself, --print-config)
	Secret    map[string]bool   // keys Print never shows
	Explicit  map[string]string // keys only a file given explicitly may set (not the default one in the data dir) -> hint
}

// Apply fills every flag of the already parsed fs that was not given on the command line from
// the file at path. A missing file is no error unless explicit (the user named it).
func Apply(fs *flag.FlagSet, path string, explicit bool, rules Rules) (Sources, error) {
	src := Sources{From: map[string]string{}}
	fs.Visit(func(f *flag.Flag) { src.From[f.Name] = "flag --" + f.Name })
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return src, nil
		}
		return src, hint.New("check the path given to --config", "failed to open config file: %s", err)
	}
	defer f.Close()
	lines, err := Parse(f)
	if err != nil {
		return src, hint.New("see echorelay.conf.example: `key = value` lines, # starts a comment", "%s: %s", path, err)
	}
	src.File = path
	for _, l := range lines {
		fl := fs.Lookup(l.Key)
		if fl == nil || rules.NotInFile[l.Key] {
			return src, hint.New("keys are the long flag names listed by `echorelay serve --help`",
				"%s:%d: unknown key %q", path, l.Line, l.Key)
		}
		if h, ok := rules.Explicit[l.Key]; ok && !explicit {
			return src, hint.New(h, "%s:%d: %s cannot be set in the config file inside the data directory", path, l.Line, l.Key)
		}
		if _, byFlag := src.From[l.Key]; byFlag {
			continue // flags win over the file
		}
		if err := fs.Set(l.Key, l.Value); err != nil {
			return src, hint.New(fmt.Sprintf("the flag --%s takes the same values: %s", l.Key, fl.Usage),
				"%s:%d: %s = %s: %s", path, l.Line, l.Key, l.Value, PlainSetError(fl, err))
		}
		src.From[l.Key] = fmt.Sprintf("%s:%d", path, l.Line)
	}
	return src, nil
}

// PlainSetError says what a flag value should look like, by the flag's type.
func PlainSetError(fl *flag.Flag, err error) string {
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

// Print writes the effective configuration in the file's format, after header lines (each
// printed as a comment), every key with where its value came from; secret keys are named only.
func Print(w io.Writer, fs *flag.FlagSet, src Sources, rules Rules, header ...string) {
	for _, h := range header {
		fmt.Fprintf(w, "# %s\n", h)
	}
	fmt.Fprintln(w)
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !rules.NotInFile[f.Name] {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	lines := make([]string, len(names))
	width := 0
	for i, n := range names {
		lines[i] = n + " = " + FormatValue(fs.Lookup(n).Value.String())
		width = max(width, len(lines[i]))
	}
	for i, n := range names {
		if rules.Secret[n] {
			if fs.Lookup(n).Value.String() != "" {
				fmt.Fprintf(w, "# %s is set (%s), not shown\n", n, src.Of(n))
			} else {
				fmt.Fprintf(w, "# %s is not set\n", n)
			}
			continue
		}
		fmt.Fprintf(w, "%-*s  # %s\n", width, lines[i], src.Of(n))
	}
}

// Check is one row of a validation table: OK returns "" when c's value is accepted, else the
// accepted range in words ("between 1024 and 67108864").
type Check[T any] struct {
	Key string
	OK  func(c *T) string
}

// Validate runs the checks whose keys fs has; the first refusal names the key, its value
// (hidden for secret keys), the accepted range and where the value came from.
func Validate[T any](fs *flag.FlagSet, c *T, checks []Check[T], src Sources, rules Rules) error {
	for _, ch := range checks {
		fl := fs.Lookup(ch.Key)
		if fl == nil {
			continue
		}
		if want := ch.OK(c); want != "" {
			v := fl.Value.String()
			if rules.Secret[ch.Key] {
				v = "(hidden)"
			}
			return hint.New(fmt.Sprintf("%s comes from %s; run `echorelay %s --help` for what it means", ch.Key, src.Of(ch.Key), fs.Name()),
				"%s = %s: must be %s", ch.Key, v, want)
		}
	}
	return nil
}

// IntBetween accepts lo <= v <= hi.
func IntBetween(v, lo, hi int64) string {
	if v < lo || v > hi {
		return fmt.Sprintf("between %d and %d", lo, hi)
	}
	return ""
}

// NotNegative accepts 0 and positive numbers (not NaN).
func NotNegative(v float64) string {
	if v < 0 || v != v {
		return "0 (off) or a positive number"
	}
	return ""
}

// DurBetween accepts lo <= v <= hi.
func DurBetween(v, lo, hi time.Duration) string {
	if v < lo || v > hi {
		return fmt.Sprintf("a duration between %s and %s", ShortDur(lo), ShortDur(hi))
	}
	return ""
}

// ShortDur prints 1m and 8760h rather than 1m0s and 8760h0m0s.
func ShortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// HostPort accepts HOST:PORT with a port from 0 to 65535, and "off" when offOK.
func HostPort(v string, offOK bool) string {
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
