// Package admintest holds the strict readers the tests of internal/admin and cmd/echorelay
// share: the Prometheus exposition format of /metrics, the markup of the status page
// (markup.go) and a search for IP addresses in what the relay shows.
// Test code only: nothing else imports it.
package admintest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type Family struct {
	Type, Help string
	Series     map[string]float64 // canonical labels {a="x",b="y"} (sorted) -> value
}

var (
	promName  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// ParseExposition reads the Prometheus text format strictly: every family has one # HELP and
// one # TYPE before its samples, samples of a family are contiguous, names and labels are
// valid, label values use only the three escapes, values parse, no series repeats, counters end
// in _total, and the text ends with a newline.
func ParseExposition(text string) (map[string]*Family, error) {
	fams := map[string]*Family{}
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("does not end with a newline")
	}
	var cur string
	done := map[string]bool{} // families whose samples are over
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n++
		if line == "" {
			return nil, fmt.Errorf("line %d: empty", n)
		}
		if strings.HasPrefix(line, "#") {
			f := strings.SplitN(line, " ", 4)
			if len(f) < 3 || (f[1] != "HELP" && f[1] != "TYPE") {
				continue // a plain comment
			}
			name := f[2]
			if !promName.MatchString(name) {
				return nil, fmt.Errorf("line %d: bad metric name %q", n, name)
			}
			if name != cur {
				if done[name] {
					return nil, fmt.Errorf("line %d: family %s appears twice", n, name)
				}
				if cur != "" {
					done[cur] = true
				}
				cur = name
			}
			fam := fams[name]
			if fam == nil {
				fam = &Family{Series: map[string]float64{}}
				fams[name] = fam
			}
			if len(fam.Series) > 0 {
				return nil, fmt.Errorf("line %d: %s after samples", n, f[1])
			}
			rest := ""
			if len(f) == 4 {
				rest = f[3]
			}
			switch f[1] {
			case "HELP":
				if fam.Help != "" {
					return nil, fmt.Errorf("line %d: second HELP for %s", n, name)
				}
				if rest == "" {
					return nil, fmt.Errorf("line %d: empty HELP for %s", n, name)
				}
				fam.Help = rest
			case "TYPE":
				if fam.Type != "" {
					return nil, fmt.Errorf("line %d: second TYPE for %s", n, name)
				}
				switch rest {
				case "counter", "gauge", "untyped":
				default:
					return nil, fmt.Errorf("line %d: type %q", n, rest)
				}
				if rest == "counter" && !strings.HasSuffix(name, "_total") {
					return nil, fmt.Errorf("line %d: counter %s does not end in _total", n, name)
				}
				fam.Type = rest
			}
			continue
		}
		name, labels, value, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if name != cur {
			return nil, fmt.Errorf("line %d: sample of %s outside its family (current %s)", n, name, cur)
		}
		fam := fams[name]
		if fam.Type == "" || fam.Help == "" {
			return nil, fmt.Errorf("line %d: %s has no TYPE or HELP", n, name)
		}
		if _, dup := fam.Series[labels]; dup {
			return nil, fmt.Errorf("line %d: series %s%s repeats", n, name, labels)
		}
		if fam.Type == "counter" && value < 0 {
			return nil, fmt.Errorf("line %d: negative counter", n)
		}
		fam.Series[labels] = value
	}
	for name, fam := range fams {
		if len(fam.Series) == 0 {
			return nil, fmt.Errorf("family %s has no samples", name)
		}
	}
	return fams, nil
}

// parseSample reads `name{a="x",b="y"} value` and returns the labels sorted and re-escaped.
func parseSample(line string) (name, labels string, value float64, err error) {
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", "", 0, fmt.Errorf("no value in %q", line)
	}
	name, rest := line[:i], line[i:]
	if !promName.MatchString(name) {
		return "", "", 0, fmt.Errorf("bad name %q", name)
	}
	var ls []string
	if rest[0] == '{' {
		rest = rest[1:]
		seen := map[string]bool{}
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return "", "", 0, fmt.Errorf("bad labels in %q", line)
			}
			ln := rest[:eq]
			if !promLabel.MatchString(ln) || seen[ln] {
				return "", "", 0, fmt.Errorf("bad or repeated label name %q", ln)
			}
			seen[ln] = true
			rest = rest[eq+2:]
			var v strings.Builder
			for {
				if rest == "" {
					return "", "", 0, fmt.Errorf("unterminated label value in %q", line)
				}
				c := rest[0]
				rest = rest[1:]
				if c == '"' {
					break
				}
				if c == '\n' {
					return "", "", 0, fmt.Errorf("raw newline in a label value")
				}
				if c == '\\' {
					if rest == "" {
						return "", "", 0, fmt.Errorf("dangling escape")
					}
					switch rest[0] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						return "", "", 0, fmt.Errorf("bad escape \\%c", rest[0])
					}
					rest = rest[1:]
					continue
				}
				v.WriteByte(c)
			}
			ls = append(ls, ln+"="+strconv.Quote(v.String()))
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			} else if !strings.HasPrefix(rest, "}") {
				return "", "", 0, fmt.Errorf("want , or } in %q", line)
			}
		}
	}
	if !strings.HasPrefix(rest, " ") {
		return "", "", 0, fmt.Errorf("want a space before the value in %q", line)
	}
	f := strings.Fields(rest)
	if len(f) < 1 || len(f) > 2 {
		return "", "", 0, fmt.Errorf("want value [timestamp] in %q", line)
	}
	value, err = strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", "", 0, fmt.Errorf("bad value %q", f[0])
	}
	sort.Strings(ls)
	if len(ls) > 0 {
		labels = "{" + strings.Join(ls, ",") + "}"
	}
	return name, labels, value, nil
}

// Metric returns one series' value, failing the test when it is missing.
func Metric(t *testing.T, fams map[string]*Family, name, labels string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
	v, ok := f.Series[labels]
	if !ok {
		t.Fatalf("no series %s%s; have %v", name, labels, f.Series)
	}
	return v
}
