package peers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Echo lines marked `inbound`: the Echo node dials this relay's Echo listener (the way that
// works with RSA-keyed Spot-On-Lite nodes, echotls.go), and the line gives that link its
// options, its status row and its backlog. The line's dialer does not dial: it waits for a
// connection from the line's host to arrive on the Echo listener and serves it as the line's
// link, so the link is up, backs off and is removed exactly like a dialed one.
//
// Recognition is by source address only, like an unpinned relay line (section 5): whoever
// calls from that address is the line. An Echo listener lets anybody flood anyway; the backlog
// it then sends holds what any client could fetch from the relay.
//
//	dialer: dialEcho ──register(line)──► waits ◄──hand(conn)── Echo listener: accept
//	                                      │                      (parks a call for up to
//	                                      ▼                       echoParkWait if no dialer
//	                              serveEcho(conn, line)           waits yet, e.g. in backoff)

// echoParkWait is how long a call from an inbound line's host waits for the line's dialer (in
// its backoff after the previous link) before it is served as an anonymous inbound link.
const echoParkWait = 10 * time.Second

// errEchoWaiting is what an inbound line's dialer reports when it stops waiting.
var errEchoWaiting = errors.New("waiting for the Echo node to dial this relay's Echo listener")

// echoCallIns are the inbound lines' dialers that wait for their Echo node. The registry is
// per process: dialEcho has no Node, and a relay is one process. Each waiter is keyed by the
// line and checked against the accepting node's own lines.
var echoCallIns = struct {
	mu      sync.Mutex // guards the fields below
	waiting map[string]*echoCallIn
	changed chan struct{} // closed and replaced whenever a waiter registers
}{waiting: map[string]*echoCallIn{}, changed: make(chan struct{})}

type echoCallIn struct {
	p    Peer
	ips  []netip.Addr
	ch   chan net.Conn // takes one call
	gone bool          // guarded by echoCallIns.mu: the waiter stopped; no call may be sent
}

// waitEchoCallIn is dialEcho for an inbound line: it returns the next call from the line's host.
func waitEchoCallIn(ctx context.Context, p Peer) (net.Conn, error) {
	host, _, err := net.SplitHostPort(p.Addr)
	if err != nil {
		return nil, fmt.Errorf("failed to wait for %s: %w", p.Addr, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve %s: %w", host, err)
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap()
	}
	w := &echoCallIn{p: p, ips: ips, ch: make(chan net.Conn, 1)}
	key := p.Key()
	echoCallIns.mu.Lock()
	echoCallIns.waiting[key] = w
	close(echoCallIns.changed)
	echoCallIns.changed = make(chan struct{})
	echoCallIns.mu.Unlock()
	select {
	case c := <-w.ch:
		return c, nil
	case <-ctx.Done():
	}
	echoCallIns.mu.Lock()
	w.gone = true
	if echoCallIns.waiting[key] == w {
		delete(echoCallIns.waiting, key)
	}
	echoCallIns.mu.Unlock()
	// A call handed over at the last moment is closed (its accept goroutine returns), and the
	// Echo node redials.
	select {
	case c := <-w.ch:
		c.Close()
	default:
	}
	return nil, errEchoWaiting
}

// handEchoCallIn gives an accepted Echo connection to the waiting dialer of an inbound line of
// this node whose host it comes from, and returns once that link has ended; false when no such
// line exists or its dialer did not take the call within echoParkWait.
func (n *Node) handEchoCallIn(c net.Conn) bool {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return false
	}
	from := ap.Addr().Unmap()
	mine := func(p Peer) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		_, ok := n.dialers[p.Key()]
		return ok
	}
	n.mu.Lock()
	var hosts []string
	for _, p := range n.peers {
		if h, _, err := net.SplitHostPort(p.Addr); err == nil && p.CallsIn {
			hosts = append(hosts, h)
		}
	}
	n.mu.Unlock()
	if !callsFrom(n.ctx, hosts, from) {
		return false
	}
	park := time.NewTimer(echoParkWait)
	defer park.Stop()
	for {
		echoCallIns.mu.Lock()
		var w *echoCallIn
		for _, x := range echoCallIns.waiting {
			for _, ip := range x.ips {
				if ip == from && w == nil && mine(x.p) { // another node's line (tests run several)
					w = x
				}
			}
		}
		changed := echoCallIns.changed
		var hc *handedConn
		if w != nil {
			delete(echoCallIns.waiting, w.p.Key()) // one call per wait
			hc = &handedConn{Conn: c, done: make(chan struct{})}
			w.ch <- hc // buffered, one call per wait, the waiter not gone: it takes or closes it
		}
		echoCallIns.mu.Unlock()
		if w != nil {
			select {
			case <-hc.done:
			case <-n.ctx.Done():
				c.Close()
			}
			return true
		}
		select {
		case <-changed:
		case <-park.C:
			return false
		case <-n.ctx.Done():
			return false
		}
	}
}

// callsFrom reports whether one of the hosts is, or resolves to, the address from.
func callsFrom(ctx context.Context, hosts []string, from netip.Addr) bool {
	for _, h := range hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			if a.Unmap() == from {
				return true
			}
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, _ := net.DefaultResolver.LookupNetIP(lctx, "ip", h)
		cancel()
		for _, ip := range ips {
			if ip.Unmap() == from {
				return true
			}
		}
	}
	return false
}

// handedConn reports its Close to the accept goroutine that holds its connection slot.
type handedConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (h *handedConn) Close() error {
	err := h.Conn.Close()
	h.once.Do(func() { close(h.done) })
	return err
}
