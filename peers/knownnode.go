package peers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// The node's side of pin on first use (known.go): which inbound relay is a listed neighbour,
// what a dial of an unpinned line pins, and the loud refusal of a changed key.

// neighbourMatch is what the peers file says of an inbound relay.
type neighbourMatch struct {
	ok bool // a listed neighbour: by a pin, or by the key first seen for an unpinned line
	// Otherwise claimed is the unpinned line whose address the relay calls from and whose port
	// it claims in HELLO (a guess, never proof), and pinned the key that line is pinned to ("":
	// none yet).
	claimed *Peer
	pinned  string
}

// matchNeighbour matches an inbound relay that presented key fp against the peers file.
func (n *Node) matchNeighbour(fp string, remote net.Addr, listenPort uint16) neighbourMatch {
	if fp == "" {
		return neighbourMatch{}
	}
	n.mu.Lock()
	ps := append([]Peer(nil), n.peers...)
	n.mu.Unlock()
	for _, p := range ps {
		if p.Pin != "" && p.Pin == fp || p.Pin == "" && !p.IsEcho() && n.known.Key(p.Addr) == fp {
			return neighbourMatch{ok: true}
		}
	}
	var rip net.IP
	switch a := remote.(type) {
	case *net.UDPAddr:
		rip = a.IP
	case *net.TCPAddr:
		rip = a.IP
	}
	if rip == nil {
		return neighbourMatch{}
	}
	for _, p := range ps {
		if p.Pin != "" || p.IsEcho() {
			continue
		}
		host, port, _ := net.SplitHostPort(p.Addr)
		if port != strconv.Itoa(int(listenPort)) {
			continue
		}
		ips := []net.IP{net.ParseIP(host)}
		if ips[0] == nil {
			ctx, cancel := context.WithTimeout(n.ctx, 3*time.Second)
			addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
			cancel()
			if err != nil {
				continue
			}
			ips = ips[:0]
			for _, a := range addrs {
				ips = append(ips, a.IP)
			}
		}
		for _, ip := range ips {
			if ip.Equal(rip) {
				return neighbourMatch{claimed: &p, pinned: n.known.Key(p.Addr)}
			}
		}
	}
	return neighbourMatch{}
}

// isNeighbour reports whether an inbound relay with key fp is a listed neighbour.
func (n *Node) isNeighbour(fp string, remote net.Addr, listenPort uint16) bool {
	return n.matchNeighbour(fp, remote, listenPort).ok
}

// isListedKey reports whether fp is the pin of a peers-file line or the key first seen for an
// unpinned one: what earns a neighbour connection slot (slots.go).
func (n *Node) isListedKey(fp string) bool {
	return fp != "" && n.matchNeighbour(fp, nil, 0).ok
}

// admitInbound decides whether an inbound relay with key fp, claiming listenPort, is a
// neighbour. An error closes the link: it claims a line pinned to another key.
func (n *Node) admitInbound(fp string, remote net.Addr, listenPort uint16) (bool, error) {
	m := n.matchNeighbour(fp, remote, listenPort)
	switch {
	case m.ok:
		return true, nil
	case m.claimed != nil && m.pinned != "":
		n.keyChanged(*m.claimed, m.pinned, fp, "called from its address")
		return false, &closeReason{"key_changed", fmt.Errorf("%w: the key this relay presented is not the one its line is pinned to", echo.ErrNotNeighbour)}
	case m.claimed != nil:
		n.dialBack(*m.claimed)
	}
	return false, nil
}

// dialBack makes the dialers of the unpinned line p retry now: a relay calling from its
// address may be its neighbour, and the dial is what proves the key (and pins it). Until then
// the caller is served as a client.
func (n *Node) dialBack(p Peer) {
	if n.keyWarn.allow("dial back "+p.Addr, time.Now()) {
		n.log.Info("a relay calls from the address of an unpinned line; dialling the line to learn its key before it is a neighbour",
			"peer", p.String(), "hint", "if this relay cannot be dialled, pin its fingerprint in the peers file")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.dialers {
		if d.p.Pin == "" && !d.p.IsEcho() && d.p.Addr == p.Addr {
			select {
			case d.kick <- struct{}{}:
			default:
			}
		}
	}
}

// pinDialled checks the key fp a dial of line p met: an unpinned line is pinned to it on first
// use; a different key than the one pinned is ErrKeyChanged. (The dial itself already verified
// the pinned key in TLS, dialStream; this also covers two dials of one address racing to be
// first.)
func (n *Node) pinDialled(p Peer, fp string) error {
	if p.Pin != "" || p.IsEcho() || fp == "" {
		return nil
	}
	pinned, first, err := n.known.pinFirst(p.Addr, fp, time.Now())
	if err != nil {
		n.log.Warn("could not save the first-use pin of a neighbour; it holds until the relay restarts", "peer", p.String(), "err", err)
	}
	if pinned != fp {
		n.keyChanged(p, pinned, fp, "answered a dial")
		return &wrongRelay{expected: pinned, seen: fp}
	}
	if first {
		n.log.Info("pinned an unpinned neighbour's key on first use", "peer", p.String(), "fingerprint", fp, "file", n.cfg.KnownPeersFile)
	}
	go n.recheckStrangers()
	return nil
}

// dialFailed counts and reports a dial that met another key than the one pinned on first use.
func (n *Node) dialFailed(p Peer, err error) {
	var wr *wrongRelay
	if p.Pin != "" || !errors.As(err, &wr) {
		return
	}
	n.keyChanged(p, wr.expected, wr.seen, "answered a dial")
}

// keyChanged logs, at most once a minute per line, and counts a relay refused because it
// presented another key than the one its line was pinned to on first use.
func (n *Node) keyChanged(p Peer, pinned, seen, how string) {
	n.abuse.closed("key_changed")
	if !n.keyWarn.allow("key "+p.Addr, time.Now()) {
		return
	}
	n.log.Warn("REFUSED a neighbour whose key changed: the relay that "+how+" presented another key than the one first seen for its line",
		"peer", p.String(), "pinned", pinned, "presented", seen,
		"hint", "if the neighbour's key really changed, run `echorelay trust "+p.Addr+" "+seen+"` and `echorelay reload`")
}

// reloadKnown re-reads the first-use pins (with the peers file: SIGHUP, `echorelay reload`).
func (n *Node) reloadKnown() {
	if err := n.known.Load(); err != nil {
		n.log.Warn("could not re-read the first-use pins; keeping the ones loaded before", "err", err)
	}
}

// KnownPeers is the node's record of first-use pins.
func (n *Node) KnownPeers() *KnownPeers { return n.known }

// logEveryKey lets one log line per key through per minute.
type logEveryKey struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (e *logEveryKey) allow(key string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		e.last = map[string]time.Time{}
	}
	if t, ok := e.last[key]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if len(e.last) >= 1024 { // lines of the operator's own file; bounded all the same
		clear(e.last)
	}
	e.last[key] = now
	return true
}
