package peers

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
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
	DefaultEchoTTL   = 24 * time.Hour   // lifetime of a blob bridged from Echo
	echoExpiryBucket = 10 * time.Minute // expiry rounding for stable IDs
	// Keep-alives. Spot-On-Lite closes a link that was silent for its configured silence
	// (5–3600 s) and sends its capabilities every silence/2. Without `silence=` on the line a
	// relay sends something at least every DefaultEchoKeepAlive, which keeps the shortest
	// silence up, and waits DefaultEchoIdle for the neighbour, which outlasts the longest one's
	// 1800 s. With `silence=S` it sends every 2S/5 and waits S, as Spot-On-Lite itself does.
	DefaultEchoKeepAlive = 2 * time.Second
	DefaultEchoIdle      = time.Hour
	MinEchoSilence       = 5 * time.Second
	MaxEchoSilence       = time.Hour
	// DefaultEchoSettle is how long a new link holds data back: Spot-On-Lite discards what
	// arrives in the first 2.5–5 s of a connection (its local socket connects after 2.5 s).
	DefaultEchoSettle = 5 * time.Second
	MaxEchoSettle     = time.Minute
	echoSeenMax       = 200_000 // content digests remembered
	echoReadBuf       = 64 << 10
	echoWindow        = 64 // envelopes in flight to the store per Echo link
)

// Echo schemes in the peers file.
const (
	SchemeEchoTCP = "echo+tcp"
	SchemeEchoTLS = "echo+tls"
)

// IsEcho reports whether the peer is an Echo link.
func (p Peer) IsEcho() bool { return p.Scheme == SchemeEchoTCP || p.Scheme == SchemeEchoTLS }

// parseEchoOption reads `silence=D`, `settle=D` (D a Go duration or seconds) or `inbound` of an
// Echo line.
func parseEchoOption(p *Peer, f string) error {
	k, v, _ := strings.Cut(f, "=")
	if !p.IsEcho() {
		return fmt.Errorf("%q applies to echo+tcp:// and echo+tls:// links only", k)
	}
	if f == "inbound" {
		if p.CallsIn {
			return fmt.Errorf("give inbound once")
		}
		p.CallsIn = true
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, err2 := strconv.Atoi(v)
		if err2 != nil {
			return fmt.Errorf("%s=%q is not a duration like 20s", k, v)
		}
		d = time.Duration(n) * time.Second
	}
	switch {
	case k == "silence" && (d < MinEchoSilence || d > MaxEchoSilence):
		return fmt.Errorf("silence=%s is outside Spot-On-Lite's %s..%s", d, MinEchoSilence, MaxEchoSilence)
	case k == "settle" && (d <= 0 || d > MaxEchoSettle):
		return fmt.Errorf("settle=%s is outside 0..%s", d, MaxEchoSettle)
	case k == "silence" && p.Silence != 0 || k == "settle" && p.Settle != 0:
		return fmt.Errorf("give %s= once", k)
	case k == "silence":
		p.Silence = d
	default:
		p.Settle = d
	}
	return nil
}

// echoTiming is a link's keep-alive interval, read timeout and settle time.
func echoTiming(p *Peer) (every, idle, settle time.Duration) {
	every, idle, settle = DefaultEchoKeepAlive, DefaultEchoIdle, DefaultEchoSettle
	if p == nil {
		return
	}
	if p.Silence > 0 {
		every, idle = p.Silence*2/5, p.Silence
	}
	if p.Settle > 0 {
		settle = p.Settle
	}
	return
}

// EchoCounters are the Echo bridge's counters (for /status).
type EchoCounters struct {
	MessagesIn     atomic.Int64 // messages cut from Echo streams
	DataIn         atomic.Int64 // data messages bridged into the relay
	ControlIn      atomic.Int64 // link-local messages (capabilities, identities, 0111) answered or recorded
	Malformed      atomic.Int64 // messages that did not parse
	Oversized      atomic.Int64 // data without an end marker within the size limit, discarded
	LengthMismatch atomic.Int64 // accepted although Content-Length was missing or wrong
	Headerless     atomic.Int64 // accepted without a POST header
	CarriedWhole   atomic.Int64 // data not in the canonical form, carried as the whole message
	TypedData      atomic.Int64 // data with a type that is not link-local, forwarded like any data
	AlreadyBridged atomic.Int64 // Echo messages dropped by the digest set
	DataOut        atomic.Int64 // blobs sent to Echo links as data messages
	BacklogOut     atomic.Int64 // of those, sent by a catch-up from the store
	QueueDrops     atomic.Int64 // blobs not queued because an Echo link's queue was full
	TooWide        atomic.Int64 // blobs not sent: longer than the neighbour's lane width
}

// Snapshot returns the counters by name.
func (c *EchoCounters) Snapshot() map[string]int64 {
	return map[string]int64{
		"messages_in": c.MessagesIn.Load(), "data_in": c.DataIn.Load(), "control_in": c.ControlIn.Load(),
		"malformed": c.Malformed.Load(), "oversized": c.Oversized.Load(),
		"length_mismatch": c.LengthMismatch.Load(), "headerless": c.Headerless.Load(),
		"carried_whole": c.CarriedWhole.Load(), "typed_data": c.TypedData.Load(),
		"already_bridged": c.AlreadyBridged.Load(), "data_out": c.DataOut.Load(),
		"backlog_out": c.BacklogOut.Load(), "queue_drops": c.QueueDrops.Load(), "too_wide": c.TooWide.Load(),
	}
}

// echoState is the node's Echo bridge state: the digest set of what was bridged, and the
// lines' backlog positions (echobacklog.go).
type echoState struct {
	dmu sync.Mutex // guards m
	m   map[[32]byte]int64

	mu    sync.Mutex // guards lines; their files are under Config.EchoStateDir
	lines map[string]*echoLine
}

// mark records a digest until exp; it reports whether it was already there.
func (s *echoState) mark(d [32]byte, exp int64) bool {
	s.dmu.Lock()
	defer s.dmu.Unlock()
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

// echoLink is one Echo neighbour connection. The reader (readLoop, handle) owns the splitter;
// the writer (writeLoop) owns the socket's write side, the keep-alive timer and the catch-ups;
// floods reach the writer through out.
type echoLink struct {
	n      *Node
	c      net.Conn
	id     string // flood identity: unique per link
	dialed *Peer
	half   bool
	every  time.Duration // keep-alive interval
	idle   time.Duration // read timeout
	settle time.Duration // data held back after connecting
	line   *echoLine     // backlog position; nil for anonymous inbound and Half links
	sent   echoKnown     // with a line: what this link sent, so a catch-up repeats no live flood

	out      chan []byte
	qbytes   atomic.Int64
	dropped  atomic.Bool  // a flood was dropped on a full queue: catch up from the store
	peerLane atomic.Int64 // the neighbour's lane width from its capabilities (0: unknown)
	window   chan struct{}
	closed   chan struct{}
	once     sync.Once
	in       atomic.Int64
	outN     atomic.Int64
	since    time.Time
	peerID   atomic.Value // remote uuid from its capabilities
}

var echoInbound atomic.Int64

func (n *Node) newEchoLink(c net.Conn, dialed *Peer) *echoLink {
	l := &echoLink{n: n, c: c, dialed: dialed, out: make(chan []byte, QueueBlobs),
		window: make(chan struct{}, echoWindow), closed: make(chan struct{}), since: time.Now()}
	l.every, l.idle, l.settle = echoTiming(dialed)
	if dialed != nil {
		l.id, l.half = "echo:"+dialed.Key(), dialed.Half
		l.line = n.echoLineFor(*dialed)
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
	if l.qbytes.Load()+int64(len(env)) <= QueueBytes {
		select {
		case l.out <- env:
			l.qbytes.Add(int64(len(env)))
			return true
		default:
		}
	}
	l.n.echo.QueueDrops.Add(1)
	l.dropped.Store(true)
	return false
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
	n.log.Info("echo link up", "peer", l.name(), "half", l.half, "backlog", l.line != nil)
	done := make(chan struct{})
	go func() { defer close(done); l.writeLoop() }()
	reason := l.readLoop()
	l.close() // takes it out of echoLinks and the floods
	<-done
	if l.line != nil {
		if err := l.line.save(time.Now(), true); err != nil {
			n.log.Warn("echo backlog position not saved", "peer", l.name(), "err", err)
		}
	}
	return reason
}

func (l *echoLink) readLoop() string {
	sp := echo.EchoSplitter{Max: echo.EchoMaxMessage(l.n.relay.Limits().MaxBlob)}
	buf := make([]byte, echoReadBuf)
	for {
		l.c.SetReadDeadline(time.Now().Add(l.idle))
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
	case echo.EchoTypeCapabilities:
		c.ControlIn.Add(1)
		if uuid, lane, _, err := echo.ParseEchoCapabilities(m.Content); err == nil {
			l.peerID.Store(uuid)
			l.peerLane.Store(int64(lane))
		}
		return
	case echo.EchoTypeIdentity, echo.EchoTypeHello:
		// A client's identity for filtering (a relay forwards everything anyway), and
		// Spot-On-Lite's periodic hello: link-local, recorded only.
		c.ControlIn.Add(1)
		return
	case "":
	default:
		c.TypedData.Add(1) // Spot-On-Lite forwards every other type as it came: so do we
	}
	switch {
	case !m.Header:
		c.Headerless.Add(1)
	case !m.LengthOK:
		c.LengthMismatch.Add(1)
	}
	if !m.Canonical {
		c.CarriedWhole.Add(1)
	}
	exp := echoExpiry(time.Now(), l.n.echoTTL())
	if l.n.echoState.mark(echo.EchoDigest(m), exp) {
		c.AlreadyBridged.Add(1)
		return
	}
	env, err := (&echo.Envelope{Expiry: exp, Payload: echo.EchoPayload(m)}).Marshal()
	if err != nil {
		c.Malformed.Add(1)
		return
	}
	if l.line != nil {
		l.line.from.add(echo.BlobID(env)) // never sent back to it by a catch-up
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
		n.acceptLoop(ln, func(c net.Conn) {
			if !n.handEchoCallIn(c) {
				n.serveEcho(c, nil)
			}
		})
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
