package peers

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Transport schemes in the peers file.
const (
	SchemeQUIC = "quic"
	SchemeTLS  = "tls"
)

// Peer is one line of the peers file.
type Peer struct {
	Scheme string // SchemeQUIC or SchemeTLS
	Addr   string // host:port
	Pin    string // optional lowercase hex fingerprint
	Label  string // the comment after the entry, e.g. "classroom pi"; for status pages
	Half   bool   // Echo links only: Half Echo, only this relay's own clients' blobs go out
	// Echo links only (echolink.go): the Echo node's configured silence, `silence=20s`, and
	// how long it discards input after connecting, `settle=5s`; 0 takes the defaults.
	Silence, Settle time.Duration
	// CallsIn, Echo links only (`inbound`): the Echo node dials this relay's Echo listener from
	// the line's host, and the relay does not dial it (echoinbound.go).
	CallsIn bool
}

// Key identifies the line for reloads.
func (p Peer) Key() string {
	k := p.Scheme + "://" + p.Addr + " " + p.Pin
	if p.Half {
		k += " half"
	}
	if p.Silence > 0 {
		k += " silence=" + p.Silence.String()
	}
	if p.Settle > 0 {
		k += " settle=" + p.Settle.String()
	}
	if p.CallsIn {
		k += " inbound"
	}
	return k
}

func (p Peer) String() string { return p.Scheme + "://" + p.Addr }

// LoadPeersFile reads a peers file; a missing file is an empty list.
func LoadPeersFile(path string) ([]Peer, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to open peers file: %w", err)
	}
	defer f.Close()
	ps, err := ParsePeers(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ps, nil
}

// ParsePeers reads `[scheme://]host:port [fingerprint]` lines with # comments.
func ParsePeers(r io.Reader) ([]Peer, error) {
	var out []Peer
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for n := 1; sc.Scan(); n++ {
		line, comment := sc.Text(), ""
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line, comment = line[:i], line[i+1:]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		p, err := parsePeerFields(fields)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		p.Label = cleanLabel(comment)
		out = append(out, p)
	}
	return out, sc.Err()
}

// MaxLabel is the longest label kept from a peers-file comment, in runes.
const MaxLabel = 64

// cleanLabel turns a trailing comment into a one-line label: control characters become spaces,
// runs of spaces collapse, and it is cut at MaxLabel runes.
func cleanLabel(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > MaxLabel {
		s = strings.TrimSpace(string(r[:MaxLabel]))
	}
	return s
}

// ParsePeer reads one `[scheme://]host:port [fingerprint]` entry.
func ParsePeer(s string) (Peer, error) { return parsePeerFields(strings.Fields(s)) }

func parsePeerFields(fields []string) (Peer, error) {
	if len(fields) == 0 || len(fields) > 5 {
		return Peer{}, fmt.Errorf("want `host:port [fingerprint]`")
	}
	p := Peer{Scheme: SchemeQUIC, Addr: fields[0]}
	if i := strings.Index(p.Addr, "://"); i >= 0 {
		p.Scheme, p.Addr = strings.ToLower(p.Addr[:i]), p.Addr[i+3:]
	}
	switch p.Scheme {
	case SchemeQUIC, SchemeTLS, SchemeEchoTCP, SchemeEchoTLS:
	default:
		return Peer{}, fmt.Errorf("unknown scheme %q (use quic://, tls://, echo+tcp:// or echo+tls://)", p.Scheme)
	}
	host, port, err := net.SplitHostPort(p.Addr)
	if err != nil || host == "" {
		return Peer{}, fmt.Errorf("%q is not host:port", p.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Peer{}, fmt.Errorf("port %q is not 1..65535", port)
	}
	mode := ""
	for _, f := range fields[1:] {
		switch lf := strings.ToLower(f); {
		case lf == "half" || lf == "full":
			if !p.IsEcho() {
				return Peer{}, fmt.Errorf("%q applies to echo+tcp:// and echo+tls:// links only", f)
			}
			if mode != "" {
				return Peer{}, fmt.Errorf("give half or full once")
			}
			mode, p.Half = lf, lf == "half"
		case strings.HasPrefix(lf, "silence=") || strings.HasPrefix(lf, "settle=") || lf == "inbound":
			if err := parseEchoOption(&p, lf); err != nil {
				return Peer{}, err
			}
		case p.Pin == "":
			pin, err := parseFingerprint(lf)
			if err != nil {
				return Peer{}, err
			}
			if p.Scheme == SchemeEchoTCP {
				return Peer{}, fmt.Errorf("echo+tcp:// has no certificate to pin; use echo+tls://")
			}
			p.Pin = pin
		default:
			return Peer{}, fmt.Errorf("want `host:port [fingerprint]`")
		}
	}
	return p, nil
}

// parseFingerprint reads a relay fingerprint as `echorelay fingerprint` prints it: 64 hex
// digits, in either case, optionally prefixed "sha256:". It returns the lowercase form.
func parseFingerprint(s string) (string, error) {
	fp := strings.TrimPrefix(strings.ToLower(s), "sha256:")
	if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 {
		return "", fmt.Errorf("fingerprint must be 64 hex characters")
	}
	return fp, nil
}
