package admin

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/echorelay/echorelay/peers"
)

// Neighbour is one neighbour as the status page, /status and /metrics show it. Addresses
// are left out unless the operator asks (--admin-show-addresses): a screenshot of the page
// shared in a school chat then shows no IP address.
type Neighbour struct {
	Peer        string    `json:"peer"`                  // the label from the peers file, else "neighbour N"
	Address     string    `json:"address,omitempty"`     // quic://host:port, only with --admin-show-addresses
	Fingerprint string    `json:"fingerprint,omitempty"` // first 16 hex digits of its key
	State       string    `json:"state"`                 // up, connecting, backoff
	Inbound     bool      `json:"inbound,omitempty"`     // it dialed us
	Transport   string    `json:"transport,omitempty"`   // quic or tls while up
	Since       time.Time `json:"since"`
	ForS        int64     `json:"for_s"`                  // seconds in this state
	DownSince   time.Time `json:"down_since,omitzero"`    // a configured line not up: since when (kept across retries)
	DownForS    int64     `json:"down_for_s,omitempty"`   // seconds since DownSince
	LastError   string    `json:"last_error,omitempty"`   // in plain words
	ErrorDetail string    `json:"error_detail,omitempty"` // the technical text, addresses removed
	Hint        string    `json:"hint,omitempty"`         // what to change when the cause is known (peers.EchoHint)
	BlobsIn     int64     `json:"blobs_in"`               // from it, on the links now open
	BlobsOut    int64     `json:"blobs_out"`              // to it, on the links now open
	Links       int       `json:"links"`                  // links up: ours to it, and its to us
}

// Neighbours names the neighbours and puts their errors in plain words. Two relays that list
// each other keep one link (PROTOCOL.md section 5), and a line whose neighbour dialed that link
// shows as up through it; for the moment while a second link is being closed, an inbound link
// whose key matches a configured line is merged into that line's row (the neighbour is up if
// either link is), so the page shows one row per neighbour. Inbound neighbours matching no line
// with a known key get their own row.
func Neighbours(ns []peers.NeighbourStatus, showAddrs bool, now time.Time) []Neighbour {
	out := make([]Neighbour, 0, len(ns))
	byFP := map[string]int{} // full fingerprint -> index in out of a configured line
	n := 0
	for _, s := range ns {
		if s.Inbound {
			continue
		}
		n++
		name := s.Label
		if name == "" {
			name = fmt.Sprintf("neighbour %d", n)
		}
		if s.PeerFP != "" {
			byFP[s.PeerFP] = len(out)
		}
		out = append(out, view(s, name, showAddrs, now))
	}
	for _, s := range ns {
		if !s.Inbound {
			continue
		}
		i, ok := byFP[s.PeerFP]
		if !ok {
			out = append(out, view(s, "inbound relay", showAddrs, now))
			continue
		}
		v := &out[i]
		v.Links++
		v.BlobsIn += s.BlobsIn
		v.BlobsOut += s.BlobsOut
		if v.State != "up" {
			u := view(s, v.Peer, showAddrs, now)
			v.State, v.Since, v.ForS, v.Transport, v.LastError, v.ErrorDetail = u.State, u.Since, u.ForS, u.Transport, "", ""
			v.DownSince, v.DownForS = time.Time{}, 0
		}
	}
	return out
}

func view(s peers.NeighbourStatus, name string, showAddrs bool, now time.Time) Neighbour {
	v := Neighbour{Peer: name, State: s.State, Inbound: s.Inbound, Transport: s.Transport,
		Since: s.Since.UTC().Truncate(time.Second), BlobsIn: s.BlobsIn, BlobsOut: s.BlobsOut}
	if s.State == "up" {
		v.Links = 1
	}
	if !s.Since.IsZero() {
		v.ForS = int64(now.Sub(s.Since).Seconds())
	}
	if !s.DownSince.IsZero() && s.State != "up" && !s.Inbound {
		v.DownSince = s.DownSince.UTC().Truncate(time.Second)
		v.DownForS = max(0, int64(now.Sub(s.DownSince).Seconds()))
	}
	if len(s.PeerFP) >= 16 {
		v.Fingerprint = s.PeerFP[:16]
	}
	if showAddrs && !s.Inbound {
		v.Address = s.Peer
	}
	if s.LastError != "" && s.State != "up" {
		v.Hint = peers.EchoHint(s)
		v.LastError = plainError(s.LastError)
		v.ErrorDetail = s.LastError
		if !showAddrs {
			v.ErrorDetail = scrubAddresses(s.LastError)
		}
	}
	return v
}

// plainErrors map fragments of link errors to sentences a teacher understands. First match wins;
// the fragments come from quic-go, crypto/tls, crypto/x509, net, context and our own link close
// reasons (peers/link.go closeCategory, echo error codes). The raw text is shown only under
// "Details".
var plainErrors = []struct{ frag, plain string }{
	{"does not match the pin", "the key does not match the pinned fingerprint — someone else answers at that address"},
	{"closed the tls handshake without an alert", "the Echo node hung up during the secure handshake: a Spot-On-Lite listener with an RSA key cannot take it; give that listener an EC key size, or let it dial this relay's Echo listener (see the hint)"},
	{"not_neighbour", "it does not list this relay in its peers file"},
	{"answered as a client", "a program that is not a relay answers at that address"},
	{"duplicate_link", "it linked to this relay at the same moment; its own link is used instead"},
	{"now_a_neighbour", "the link was opened again now that it is listed as a neighbour"},
	{"local_close", "this relay closed the link (it was reloading or stopping)"},
	{"connection refused", "refused: is echorelay running there?"},
	{"no such host", "the name in the peers file cannot be found: check its spelling and the network's DNS"},
	{"server misbehaving", "the name in the peers file cannot be looked up: the network's DNS does not answer"},
	{"temporary failure in name resolution", "the name in the peers file cannot be looked up: is this computer on the network?"},
	{"network is unreachable", "this computer has no network route there: is it connected to the right network?"},
	{"no route to host", "no route there: is that computer switched on and on this network?"},
	{"host is down", "no route there: is that computer switched on and on this network?"},
	{"no recent network activity", "not answering: it may be switched off, asleep or behind a firewall"},
	{"handshake did not complete in time", "not answering: it may be switched off, asleep or behind a firewall"},
	{"i/o timeout", "not answering: it may be switched off, asleep or behind a firewall"},
	{"deadline exceeded", "not answering: it may be switched off, asleep or behind a firewall"},
	{"write_timeout", "it stopped taking messages: it is too slow or has gone away"},
	{"write_failed", "the connection broke while sending to it"},
	{"timeout", "stopped answering: the connection went quiet"},
	{"context canceled", "this relay stopped trying (it was reloading or stopping)"},
	{"unsupported_version", "it runs an echorelay version that speaks another protocol version: update both"},
	{"malformed", "it sent data this relay does not understand: update both relays to the same version"},
	{"truncated", "the connection broke off in the middle of a message"},
	{"no application protocol", "something other than echorelay answers at that address"},
	{"presented no certificate", "something other than echorelay answers at that address"},
	{"does not look like a tls handshake", "something other than echorelay answers at that address"},
	{"x509", "the secure connection could not be set up (certificate problem)"},
	{"certificate", "the secure connection could not be set up (certificate problem)"},
	{"handshake failure", "the secure connection could not be set up"},
	{"tls:", "the secure connection could not be set up"},
	{"crypto_error", "the secure connection could not be set up"},
	{"rate_limited", "it asked this relay to slow down"},
	{"store_full", "its storage is full"},
	{"quota_exceeded", "its storage for this relay is full"},
	{"use of closed network connection", "this relay closed the link (it was reloading or stopping)"},
	{"peer_close", "the other side closed the connection (restarted or stopped?)"},
	{"closed", "the other side closed the connection (restarted or stopped?)"},
	{"reset by peer", "the other side closed the connection (restarted or stopped?)"},
	{"broken pipe", "the other side closed the connection (restarted or stopped?)"},
	{"eof", "the other side closed the connection (restarted or stopped?)"},
	{"io_error", "the network connection failed"},
	{"operation not permitted", "this computer's firewall does not let the relay connect"},
	{"permission denied", "this computer's firewall does not let the relay connect"},
}

// plainError turns a raw link error into one sentence.
func plainError(raw string) string {
	low := strings.ToLower(raw)
	for _, p := range plainErrors {
		if strings.Contains(low, p.frag) {
			return p.plain
		}
	}
	return "the connection failed (see the details)"
}

// addrToken finds things that may be IP addresses: digits, hex, dots, colons, brackets, a zone.
var addrToken = regexp.MustCompile(`\[?[0-9A-Fa-f:.%a-z]*[:.][0-9A-Fa-f:.%a-z]*\]?(:[0-9]+)?`)

// scrubAddresses replaces every IP address (with its port) in s by "…".
func scrubAddresses(s string) string {
	return addrToken.ReplaceAllStringFunc(s, func(tok string) string {
		core := strings.TrimRight(tok, ".:")
		if LooksLikeIP(core) {
			return "…" + tok[len(core):]
		}
		return tok
	})
}

// LooksLikeIP reports whether tok is an IP address, optionally bracketed and with a port (what
// the page scrubs; the tests search what the relay shows with it).
func LooksLikeIP(tok string) bool {
	t := tok
	if h, _, err := net.SplitHostPort(t); err == nil {
		t = h
	}
	t = strings.Trim(t, "[]")
	if i := strings.IndexByte(t, '%'); i >= 0 {
		t = t[:i]
	}
	return net.ParseIP(t) != nil
}
