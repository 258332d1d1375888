package peers

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// Echo links speak the message format of the existing Echo relays (Spot-On, Spot-On-Lite,
// SmokeStack) over TCP or TLS; echo/echocompat.go owns the format and PROTOCOL.md section 10
// says what is supported. An Echo data message becomes an untagged envelope and is flooded and
// cached like any blob; every blob we flood goes out to Echo links as a data message.
//
// Echo carries no expiry and no ID, so two rules keep the bridge loop-free:
//   - the envelope made from a message gets an expiry rounded up to echoExpiryBucket, so the
//     same message bridged twice (by us, or by two of our relays) within a bucket gets the same
//     blob ID and the flood rule drops the copy;
//   - a per-node set of content digests, filled by every message we receive from or send to an
//     Echo link, drops an Echo message we have already bridged (Echo's own duplicate caches live
//     30–90 s; ours lives as long as the blob's TTL, bounded in entries).

// Echo link defaults.
const (
	DefaultEchoTTL      = 24 * time.Hour   // lifetime of a blob bridged from Echo
	echoExpiryBucket    = 10 * time.Minute // expiry rounding for stable IDs
	echoKeepAliveMin    = 15 * time.Second // capabilities every 15–45 s, as Echo nodes do
	echoKeepAliveJitter = 30 * time.Second
	echoSeenMax         = 200_000 // content digests remembered
	echoReadBuf         = 64 << 10
	echoWindow          = 64 // envelopes in flight to the store per Echo link
)

// Echo schemes in the peers file.
const (
	SchemeEchoTCP = "echo+tcp"
	SchemeEchoTLS = "echo+tls"
)

// IsEcho reports whether the peer is an Echo link.
func (p Peer) IsEcho() bool { return p.Scheme == SchemeEchoTCP || p.Scheme == SchemeEchoTLS }

// EchoCounters are the Echo bridge's counters (for /status).
type EchoCounters struct {
	MessagesIn      atomic.Int64 // messages cut from Echo streams
	DataIn          atomic.Int64 // data messages bridged into the relay
	ControlIn       atomic.Int64 // control messages (capabilities, identities) answered or ignored
	Malformed       atomic.Int64 // messages that did not parse
	Oversized       atomic.Int64 // data without an end marker within the size limit, discarded
	LengthMismatch  atomic.Int64 // accepted although Content-Length was missing or wrong
	AlreadyBridged  atomic.Int64 // Echo messages dropped by the digest set
	DataOut         atomic.Int64 // blobs sent to Echo links as data messages
	QueueDrops      atomic.Int64 // blobs not sent because an Echo link's queue was full
	UnknownControls atomic.Int64 // control messages of other types, never forwarded
}

// Snapshot returns the counters by name.
func (c *EchoCounters) Snapshot() map[string]int64 {
	return map[string]int64{
		"messages_in": c.MessagesIn.Load(), "data_in": c.DataIn.Load(), "control_in": c.ControlIn.Load(),
		"malformed": c.Malformed.Load(), "oversized": c.Oversized.Load(),
		"length_mismatch": c.LengthMismatch.Load(), "already_bridged": c.AlreadyBridged.Load(),
		"data_out": c.DataOut.Load(), "queue_drops": c.QueueDrops.Load(), "unknown_controls": c.UnknownControls.Load(),
	}
}

// echoSeen is the bridge's digest set.
type echoSeen struct {
	mu sync.Mutex // guards m
	m  map[[32]byte]int64
}

// mark records a digest until exp; it reports whether it was already there.
func (s *echoSeen) mark(d [32]byte, exp int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[[32]byte]int64{}
	}
	now := time.Now().Unix()
	if e, ok := s.m[d]; ok && e > now {
		return true
	}
	if len(s.m) >= echoSeenMax {
		for k, e := range s.m { // expired first
			if e <= now {
				delete(s.m, k)
			}
		}
		for k := range s.m { // then arbitrary entries, down to 90 %
			if len(s.m) < echoSeenMax*9/10 {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[d] = exp
	return false
}

// echoLink is one Echo neighbour connection.
type echoLink struct {
	n      *Node
	c      net.Conn
	id     string // flood identity: unique per link
	dialed *Peer
	half   bool

	out    chan []byte
	qbytes atomic.Int64
	window chan struct{}
	closed chan struct{}
	once   sync.Once
	in     atomic.Int64
	outN   atomic.Int64
	since  time.Time
	peerID atomic.Value // remote uuid from its capabilities
}

var echoInbound atomic.Int64

func (n *Node) newEchoLink(c net.Conn, dialed *Peer) *echoLink {
	l := &echoLink{n: n, c: c, dialed: dialed, out: make(chan []byte, QueueBlobs),
		window: make(chan struct{}, echoWindow), closed: make(chan struct{}), since: time.Now()}
	if dialed != nil {
		l.id, l.half = "echo:"+dialed.Key(), dialed.Half
	} else {
		l.id = fmt.Sprintf("echo-in:%d", echoInbound.Add(1))
	}
	return l
}

// Neighbour implements echo.Link.
func (l *echoLink) Neighbour() string { return l.id }

// Source implements echo.Link: an Echo link is a source of its own.
func (l *echoLink) Source() string { return "e:" + l.id }

// Kind implements echo.Link: a Half Echo link takes only our own clients' blobs.
func (l *echoLink) Kind() echo.LinkKind {
	if l.half {
		return echo.LinkHalfEcho
	}
	return echo.LinkEcho
}

// SendBlob implements echo.Link.
func (l *echoLink) SendBlob(env []byte) bool {
	if l.qbytes.Load()+int64(len(env)) > QueueBytes {
		l.n.echo.QueueDrops.Add(1)
		return false
	}
	select {
	case l.out <- env:
		l.qbytes.Add(int64(len(env)))
		return true
	default:
		l.n.echo.QueueDrops.Add(1)
		return false
	}
}

func (l *echoLink) close() {
	l.once.Do(func() {
		l.n.mu.Lock()
		delete(l.n.echoLinks, l)
		l.n.rebuildFloods()
		l.n.mu.Unlock()
		close(l.closed)
		l.c.Close()
	})
}

func (l *echoLink) name() string {
	if l.dialed != nil {
		return l.dialed.String()
	}
	return "echo inbound " + strings.TrimPrefix(l.id, "echo-in:")
}

// serveEcho runs an Echo link until it closes and returns why.
func (n *Node) serveEcho(c net.Conn, dialed *Peer) string {
	l := n.newEchoLink(c, dialed)
	n.mu.Lock()
	n.echoLinks[l] = struct{}{}
	n.rebuildFloods()
	n.mu.Unlock()
	n.log.Info("echo link up", "peer", l.name(), "half", l.half)
	go l.writeLoop()
	reason := l.readLoop()
	l.close() // takes it out of echoLinks and the floods
	return reason
}

func (l *echoLink) readLoop() string {
	max := l.n.relay.Limits().MaxBlob*4/3 + 4096 // base64 of the largest payload plus headers
	sp := echo.EchoSplitter{Max: max}
	buf := make([]byte, echoReadBuf)
	for {
		l.c.SetReadDeadline(time.Now().Add(2*echoKeepAliveMin + echoKeepAliveJitter + 30*time.Second))
		k, err := l.c.Read(buf)
		if k > 0 {
			sp.Write(buf[:k], l.handle)
		}
		if err != nil {
			select {
			case <-l.closed:
				return "closed"
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return "timeout"
			}
			return "closed"
		}
	}
}

func (l *echoLink) handle(msg []byte, err error) {
	c := &l.n.echo
	if err != nil {
		c.Oversized.Add(1)
		return
	}
	c.MessagesIn.Add(1)
	m, err := echo.ParseEchoMessage(msg)
	if err != nil {
		c.Malformed.Add(1)
		l.n.log.Debug("echo message dropped", "peer", l.name(), "err", err)
		return
	}
	switch m.Type {
	case "":
	case echo.EchoTypeCapabilities:
		c.ControlIn.Add(1)
		if f := strings.SplitN(string(m.Content), "\n", 3); len(f) == 3 {
			l.peerID.Store(f[0])
		}
		return
	case echo.EchoTypeIdentity:
		c.ControlIn.Add(1) // a client's identity for filtering: a relay forwards everything anyway
		return
	default:
		c.UnknownControls.Add(1)
		return
	}
	if !m.LengthOK {
		c.LengthMismatch.Add(1)
	}
	if len(m.Content) == 0 {
		c.Malformed.Add(1)
		return
	}
	exp := echoExpiry(time.Now(), l.n.echoTTL())
	if l.n.echoSeen.mark(sha256.Sum256(m.Content), exp) {
		c.AlreadyBridged.Add(1)
		return
	}
	env, err := (&echo.Envelope{Expiry: exp, Payload: m.Content}).Marshal()
	if err != nil {
		c.Malformed.Add(1)
		return
	}
	c.DataIn.Add(1)
	l.in.Add(1)
	select {
	case l.window <- struct{}{}:
	case <-l.closed:
		return
	}
	l.n.relay.Accept(env, l, func(id echo.ID, inserted bool, err error) {
		<-l.window
		if err != nil {
			l.n.log.Debug("echo data refused", "id", id.Short(), "reason", echo.CodeOf(err).String())
		}
	})
}

// echoExpiry rounds now+ttl up to the bucket so that re-bridging gives the same blob ID.
func echoExpiry(now time.Time, ttl time.Duration) int64 {
	b := int64(echoExpiryBucket / time.Second)
	return (now.Add(ttl).Unix()/b + 1) * b
}

func (l *echoLink) writeLoop() {
	w := bufio.NewWriterSize(l.c, writeBufSize)
	keep := time.NewTimer(time.Second) // capabilities soon after connecting, then every 15–45 s
	defer keep.Stop()
	var msg []byte
	for {
		select {
		case env := <-l.out:
			l.qbytes.Add(-int64(len(env)))
			e, err := echo.ParseEnvelope(env)
			if err != nil {
				continue
			}
			l.n.echoSeen.mark(sha256.Sum256(e.Payload), e.Expiry)
			msg = echo.AppendEchoMessage(msg[:0], "", e.Payload)
			l.n.echo.DataOut.Add(1)
			l.outN.Add(1)
		case <-keep.C:
			keep.Reset(echoKeepAliveMin + rand.N(echoKeepAliveJitter))
			msg = echo.AppendEchoMessage(msg[:0], echo.EchoTypeCapabilities,
				echo.EchoCapabilities(l.n.echoUUID(), l.n.relay.Limits().MaxBlob, !l.half))
		case <-l.closed:
			return
		}
		l.c.SetWriteDeadline(time.Now().Add(WriteTimeout))
		if _, err := w.Write(msg); err != nil {
			l.close()
			return
		}
		if len(l.out) == 0 {
			if err := w.Flush(); err != nil {
				l.close()
				return
			}
		}
	}
}

// echoUUID is a stable UUID-shaped identifier derived from the node fingerprint.
func (n *Node) echoUUID() string {
	f := n.cfg.Identity.Fingerprint
	return "{" + f[0:8] + "-" + f[8:12] + "-" + f[12:16] + "-" + f[16:20] + "-" + f[20:32] + "}"
}

func (n *Node) echoTTL() time.Duration {
	if n.cfg.EchoTTL > 0 {
		return min(n.cfg.EchoTTL, n.relay.Limits().MaxTTL)
	}
	return min(DefaultEchoTTL, n.relay.Limits().MaxTTL)
}

// listenEcho opens the Echo listener: `[echo+tcp://|echo+tls://]host:port`.
func (n *Node) listenEcho(addr string) error {
	useTLS := strings.HasPrefix(addr, SchemeEchoTLS+"://")
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, SchemeEchoTLS+"://"), SchemeEchoTCP+"://")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("failed to listen for Echo links on %s: %w", addr, err)
	}
	if useTLS {
		cfg := n.serverTLS()
		cfg.NextProtos = nil // Echo nodes speak no ALPN
		cfg.MinVersion = tls.VersionTLS12
		cfg.CurvePreferences, cfg.VerifyConnection = nil, nil // what Echo nodes offer
		ln = tls.NewListener(ln, cfg)
	}
	n.echoLn = ln
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.acceptLoop(ln, func(c net.Conn) { n.serveEcho(c, nil) })
	}()
	return nil
}

// EchoAddr is the Echo listener's address, or "".
func (n *Node) EchoAddr() string {
	if n.echoLn == nil {
		return ""
	}
	return n.echoLn.Addr().String()
}

// EchoCounters returns the Echo bridge's counters.
func (n *Node) EchoCounters() map[string]int64 { return n.echo.Snapshot() }

func dialEcho(ctx context.Context, p Peer) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	d := &net.Dialer{KeepAlive: 15 * time.Second}
	if p.Scheme == SchemeEchoTLS {
		cfg := clientTLSFor(nil, p.Pin, false)
		cfg.NextProtos, cfg.MinVersion = nil, tls.VersionTLS12
		return (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", p.Addr)
	}
	return d.DialContext(ctx, "tcp", p.Addr)
}
