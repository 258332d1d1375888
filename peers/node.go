package peers

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// ALPN is the TLS application protocol of echorelay links on QUIC and TCP+TLS.
const ALPN = "echorelay/1"

// DefaultMaxConns caps concurrent connections (clients and neighbours together).
const DefaultMaxConns = 512

// Config for New.
type Config struct {
	Identity *Identity
	Relay    *echo.Relay
	Listen   string       // host:port for QUIC (UDP) and TCP+TLS on the same port number
	Logger   *slog.Logger // nil discards
	MaxConns int          // 0 is DefaultMaxConns
	NoTCP    bool         // do not listen on TCP+TLS
	// SubmitCheck, when set, runs before a client's envelope is accepted, after the rate
	// limits and the stamp check; a non-nil error is sent to the client.
	SubmitCheck func(remote net.Addr, env []byte) error
	// ReconcileEvery is the period of set reconciliation with each neighbour (jittered
	// ±10%); 0 is DefaultReconcileEvery, negative turns reconciliation off. It also needs
	// Relay.Set.
	ReconcileEvery time.Duration

	// Abuse limits (limits.go, PROTOCOL.md section 9).
	Rates         RateLimits // zero value: no rate limits (cmd passes DefaultRateLimits)
	StampBits     uint8      // stamp cost asked of client SUBMITs (HELLO stamp_bits); 0 = none
	MaxConnsPerIP int        // 0 is DefaultMaxConnsPerIP; negative: no per-address cap
	QueueBytes    int64      // bytes of floods queued per neighbour link; 0 is QueueBytes
	// The memory budget of all links (budget.go); 0 takes DefaultMemoryBudget,
	// DefaultMemoryPerSource and DefaultMemoryWait.
	MemoryBudget, MemoryPerSource int64
	MemoryWait                    time.Duration
	// Timeouts; 0 takes the package defaults (HandshakeTimeout, FrameTimeout, IdleTimeout,
	// WriteTimeout). Tests shrink them.
	HandshakeTimeout, FrameTimeout, IdleTimeout, WriteTimeout time.Duration
	// PaceSlow is the mean drain interval above which a neighbour counts as slow and clients
	// are no longer held back for it (pace.go); 0 is PaceSlow. Tests under emulation raise it.
	PaceSlow time.Duration
	// PaceWait and PaceStall override the constants of the same names (pace.go); 0 is the
	// constant. Tests on a loaded machine scale them.
	PaceWait, PaceStall time.Duration
	// EchoListen, when set, accepts Echo links (`[echo+tcp://|echo+tls://]host:port`).
	EchoListen string
	// EchoTTL is the lifetime of blobs bridged from Echo links (0: DefaultEchoTTL).
	EchoTTL time.Duration
	// EchoStateDir keeps the Echo lines' backlog positions (echobacklog.go), normally the data
	// dir; "" keeps them in memory only (a restart sends each line's backlog again).
	EchoStateDir string
	// KnownPeersFile keeps the first-use pins of unpinned peers-file lines (known.go), normally
	// DATA/known_peers; "" keeps them in memory only (a restart forgets them).
	KnownPeersFile string
	// NeighbourSlots is the number of connections kept for listed neighbours beyond MaxConns
	// (slots.go); 0 is DefaultNeighbourSlots.
	NeighbourSlots int
}

// Node is a relay's network side: listeners, links and the dialers of configured neighbours.
type Node struct {
	pqWarn logEvery // "refused a link without X25519MLKEM768", at most once a minute
	cfg    Config
	relay  *echo.Relay
	log    *slog.Logger
	ctx    context.Context
	stop   context.CancelFunc

	quic *quicSide
	tcp  net.Listener
	port int

	// The node is the one owner of its neighbour links: carrier and echoLinks are the record,
	// floods the flood rule's copy of it (FloodLinks), rebuilt whenever either changes.
	mu      sync.Mutex // guards links, carrier, echoLinks, dialers, peers, and writes of floods
	links   map[*link]struct{}
	carrier map[string]*link // per neighbour fingerprint, the one link floods take (claim)
	floods  atomic.Pointer[[]echo.Link]
	dialers map[string]*dialer
	peers   []Peer
	conns   atomic.Int32
	wg      sync.WaitGroup

	refused atomic.Int64 // connections refused over MaxConns

	recon     *reconNode // nil when set reconciliation is off
	limiter   *limiter
	abuse     abuseCounters
	echo      EchoCounters
	echoState echoState
	echoLinks map[*echoLink]struct{} // guarded by mu
	echoLn    net.Listener
	pace      pacer       // holds clients back while a neighbour's flood queue is congested (pace.go)
	mem       *memBudget  // bytes all links hold: frames read, queued, fetched (budget.go)
	known     *KnownPeers // first-use pins of unpinned lines (known.go)
	keyWarn   logEveryKey // "refused a changed key" and "dialling back", per line, once a minute
	slots     slots       // neighbour connection slots beyond MaxConns (slots.go)
}

// New binds the listeners. Run serves them.
func New(cfg Config) (*Node, error) {
	if cfg.Identity == nil || cfg.Relay == nil {
		return nil, errors.New("peers: Identity and Relay are required")
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.StampBits > echo.MaxStampBits {
		return nil, fmt.Errorf("peers: stamp cost %d exceeds %d bits", cfg.StampBits, echo.MaxStampBits)
	}
	cfg.HandshakeTimeout = cmp.Or(cfg.HandshakeTimeout, HandshakeTimeout)
	cfg.FrameTimeout = cmp.Or(cfg.FrameTimeout, FrameTimeout)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, IdleTimeout)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, WriteTimeout)
	cfg.QueueBytes = cmp.Or(cfg.QueueBytes, QueueBytes)
	cfg.PaceSlow = cmp.Or(cfg.PaceSlow, PaceSlow)
	cfg.PaceWait = cmp.Or(cfg.PaceWait, PaceWait)
	cfg.PaceStall = cmp.Or(cfg.PaceStall, PaceStall)
	cfg.MemoryBudget = cmp.Or(cfg.MemoryBudget, DefaultMemoryBudget)
	cfg.MemoryPerSource = cmp.Or(cfg.MemoryPerSource, DefaultMemoryPerSource)
	cfg.MemoryWait = cmp.Or(cfg.MemoryWait, DefaultMemoryWait)
	cfg.NeighbourSlots = cmp.Or(cfg.NeighbourSlots, DefaultNeighbourSlots)
	known, err := OpenKnownPeers(cfg.KnownPeersFile)
	if err != nil {
		return nil, fmt.Errorf("failed to load the first-use pins of unpinned neighbours: %w", err)
	}
	n := &Node{cfg: cfg, relay: cfg.Relay, log: cfg.Logger, links: map[*link]struct{}{}, carrier: map[string]*link{}, dialers: map[string]*dialer{},
		limiter: newLimiter(cfg.Rates, cfg.Relay.Limits().MaxBlob), echoLinks: map[*echoLink]struct{}{},
		mem: newMemBudget(cfg.MemoryBudget, cfg.MemoryPerSource, cfg.MemoryWait), known: known}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.ctx, n.stop = context.WithCancel(context.Background())
	n.recon = newReconNode(n)
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q is not host:port: %w", cfg.Listen, err)
	}
	// Bind UDP first; with port 0, TCP takes the same number, retrying if it is taken.
	for try := 0; ; try++ {
		q, err := listenQUIC(n, net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("failed to listen on UDP %s: %w", cfg.Listen, err)
		}
		n.quic, n.port = q, q.port()
		if cfg.NoTCP {
			break
		}
		tl, err := listenTLS(n, net.JoinHostPort(host, strconv.Itoa(n.port)))
		if err == nil {
			n.tcp = tl
			break
		}
		q.close()
		if port != "0" || try >= 20 {
			return nil, fmt.Errorf("failed to listen on TCP %s: %w", cfg.Listen, err)
		}
	}
	if cfg.EchoListen != "" {
		if err := n.listenEcho(cfg.EchoListen); err != nil {
			n.quic.close()
			if n.tcp != nil {
				n.tcp.Close()
			}
			return nil, err
		}
	}
	cfg.Relay.SetNeighbours(n)
	return n, nil
}

// Port is the bound port number (UDP and TCP).
func (n *Node) Port() int { return n.port }

// Fingerprint is this node's identity.
func (n *Node) Fingerprint() string { return n.cfg.Identity.Fingerprint }

func (n *Node) hello() echo.Hello {
	l := n.relay.Limits()
	h := echo.Hello{Version: echo.Version, Role: echo.RoleRelay, MaxBlob: uint32(l.MaxBlob),
		MaxTTL: uint32(l.MaxTTL / time.Second), ListenPort: uint16(n.port), Features: n.recon.features(),
		StampBits: n.cfg.StampBits}
	if h.StampBits > 0 {
		h.Features |= echo.FeatureStampScaled // the cost grows with bytes x lifetime (admitSubmit)
	}
	return h
}

// Run serves until ctx is done, then closes every link and listener.
func (n *Node) Run(ctx context.Context) error {
	// Under n.mu and only while the node is not stopped: Close stops the node before it takes
	// n.mu and waits for these goroutines after, so an Add never races its Wait (a Close right
	// after Run started, from another goroutine).
	n.mu.Lock()
	if n.ctx.Err() != nil {
		n.mu.Unlock()
		return nil
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.quic.acceptLoop() }()
	if n.tcp != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); acceptTLS(n) }()
	}
	if n.recon != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.recon.loop() }()
	}
	n.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-n.ctx.Done():
	}
	n.Close()
	return nil
}

// Close stops dialers, closes links and listeners. Idempotent.
func (n *Node) Close() {
	n.stop()
	n.mu.Lock()
	for _, d := range n.dialers {
		d.stop()
	}
	ls := make([]*link, 0, len(n.links))
	for l := range n.links {
		ls = append(ls, l)
	}
	els := make([]*echoLink, 0, len(n.echoLinks))
	for l := range n.echoLinks {
		els = append(els, l)
	}
	n.mu.Unlock()
	for _, l := range ls {
		l.close(nil)
	}
	for _, l := range els {
		l.close()
	}
	if n.echoLn != nil {
		n.echoLn.Close()
	}
	if n.tcp != nil {
		n.tcp.Close()
	}
	n.quic.close()
	n.wg.Wait()
}

// serve runs a link to its end; it is called on the connection's own goroutine.
func (n *Node) serve(s stream, dialed *Peer) string {
	if dialed == nil && !n.proveSlot(s.remote, s.peerFP) {
		s.close(0, "busy")
		return "busy"
	}
	l := newLink(n, s, dialed)
	n.mu.Lock()
	n.links[l] = struct{}{}
	n.mu.Unlock()
	reason := l.run()
	n.release(l) // done by its close too, unless claim ran after the close
	n.mu.Lock()
	delete(n.links, l)
	n.mu.Unlock()
	return reason
}

// FloodLinks implements echo.Neighbours: the carrier of every linked neighbour relay and every
// Echo link, as last rebuilt. The flood rule reads it without taking the node's lock.
func (n *Node) FloodLinks() []echo.Link {
	if ls := n.floods.Load(); ls != nil {
		return *ls
	}
	return nil
}

// rebuildFloods replaces the flood rule's copy of the neighbour links; the caller holds mu.
func (n *Node) rebuildFloods() {
	ls := make([]echo.Link, 0, len(n.carrier)+len(n.echoLinks))
	for _, l := range n.carrier {
		ls = append(ls, l)
	}
	for l := range n.echoLinks {
		ls = append(ls, l)
	}
	n.floods.Store(&ls)
}

// release ends l's turn as its neighbour's carrier (when l closes): floods stop taking it at
// once, before the connection is torn down.
func (n *Node) release(l *link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l.neighbour != "" && n.carrier[l.neighbour] == l {
		delete(n.carrier, l.neighbour)
		n.rebuildFloods()
	}
}

// admit decides a link's role after its HELLO.
func (n *Node) admit(l *link) error {
	if l.hello.Role != echo.RoleRelay {
		if l.dialed != nil {
			return fmt.Errorf("%w: %s answered as a client, not a relay", echo.ErrNotNeighbour, l.dialed)
		}
		return nil
	}
	nb := ""
	if l.dialed != nil {
		nb = l.s.peerFP // the dial verified its pin, or pinned it on first use (pinDialled)
	} else if ok, err := n.admitInbound(l.s.peerFP, l.s.remote, l.hello.ListenPort); err != nil {
		return err
	} else if ok {
		nb = l.s.peerFP
	}
	n.mu.Lock() // others read l.neighbour under n.mu (Neighbours, claim); this goroutine without
	l.neighbour = nb
	n.mu.Unlock()
	if l.neighbour == "" {
		l.stranger.Store(true) // a relay not in the peers file: SetPeers may list it later
	}
	if l.neighbour != "" {
		if !n.claim(l) {
			return errDuplicateLink
		}
		n.pace.add(l)
		n.log.Info("neighbour link up", "peer", n.peerName(l), "transport", l.s.transport, "fingerprint", l.neighbour[:16])
		n.recon.linkUp(l)
	}
	return nil
}

// One link per neighbour. When two relays list each other both dial, and a relay that
// restarts dials while the old link has not timed out yet: two links to the same neighbour.
// Both sides keep the same one without talking about it: the link dialed by the relay with the
// smaller fingerprint, and between two links of the same kind the newer one. The other is
// closed as duplicate_link, and a dialer whose neighbour is already linked waits for that link
// to end before it dials again (dial.go). Half the connections, keep-alives and queues of a
// mesh configured both ways, and no flood goes out twice to one neighbour.
var errDuplicateLink = &closeReason{name: "duplicate_link"}

// claim makes l the link of its neighbour, the one floods take from now on, closing the one it
// replaces, or reports false when the current link stays and l must close.
func (n *Node) claim(l *link) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.carrier[l.neighbour]
	if cur != nil && !isClosed(cur.closed) {
		lowerIsUs := n.cfg.Identity.Fingerprint < l.neighbour
		if (cur.dialed != nil) == lowerIsUs && (l.dialed != nil) != lowerIsUs {
			return false
		}
		go cur.close(errDuplicateLink)
	}
	n.carrier[l.neighbour] = l
	n.rebuildFloods()
	return true
}

// recheckStrangers closes the links of relays that called us before the peers file listed
// them, served as clients until now, and listed now: they dial again at once (their first
// retry is within a second) and come back as neighbour links. Closing rather than promoting
// keeps a link's role fixed for its whole life; without it such a relay kept its link as a
// neighbour link while this side refused its own dials to it as duplicates.
func (n *Node) recheckStrangers() {
	n.mu.Lock()
	var ls []*link
	for l := range n.links {
		if l.stranger.Load() {
			ls = append(ls, l)
		}
	}
	n.mu.Unlock()
	for _, l := range ls {
		m := n.matchNeighbour(l.s.peerFP, l.s.remote, l.hello.ListenPort)
		switch {
		case m.ok:
			l.close(&closeReason{name: "now_a_neighbour"})
		case m.claimed != nil && m.pinned != "":
			// It claimed a line whose dial has since pinned another key.
			n.keyChanged(*m.claimed, m.pinned, l.s.peerFP, "called from its address")
			l.close(&closeReason{name: "key_changed"})
		}
	}
}

// carrierOf is the live link of the neighbour with fingerprint fp, or nil.
func (n *Node) carrierOf(fp string) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.carrier[fp]; l != nil && !isClosed(l.closed) {
		return l
	}
	return nil
}

// admitFetch applies a client's FETCH and SUBSCRIBE bucket; neighbours are exempt.
func (n *Node) admitFetch(l *link) error {
	if l.neighbour != "" {
		return nil
	}
	if wait, ok := n.limiter.allowFetch(clientKey(l.s.remote), time.Now()); !ok {
		n.abuse.fetchLimited.Add(1)
		return rateLimited(wait, "fetches")
	}
	return nil
}

// admitSubmit applies a client SUBMIT's rate limits, stamp check and SubmitCheck, cheapest
// first. Neighbours are exempt: their BLOBs pass the link's own bucket (throttle).
func (n *Node) admitSubmit(l *link, env []byte) error {
	if l.neighbour != "" {
		return nil
	}
	if wait, ok := n.limiter.allow(clientKey(l.s.remote), len(env), time.Now()); !ok {
		n.abuse.rateLimited.Add(1)
		return rateLimited(wait, "submissions")
	}
	if err := echo.CheckScaledStamp(env, int(n.cfg.StampBits), time.Now()); err != nil {
		return err
	}
	if n.cfg.SubmitCheck == nil {
		return nil
	}
	return n.cfg.SubmitCheck(l.s.remote, env)
}

// peerName is the peers-file line of a neighbour link, or a fingerprint prefix for inbound ones.
// Neighbour addresses come from the operator's own file, so they may be logged.
func (n *Node) peerName(l *link) string {
	if l.dialed != nil {
		return l.dialed.String()
	}
	return "inbound " + l.neighbour[:16]
}

// logEvery lets one log line through per minute.
type logEvery struct {
	mu   sync.Mutex
	last time.Time
}

func (e *logEvery) allow(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.last.IsZero() && now.Sub(e.last) < time.Minute {
		return false
	}
	e.last = now
	return true
}

// pqKeyExchange is the one key exchange our links (relay and client, QUIC and TCP+TLS) accept:
// hybrid X25519 + ML-KEM-768 (draft-ietf-tls-ecdhe-mlkem), so that what a link carries today
// stays closed to a future quantum computer. Offering X25519 as a fallback would let a peer
// built without it, or run with GODEBUG=tlsmlkem=0, downgrade the link silently (issue #15).
// Echo links take what Echo nodes offer (echolink.go).
var pqKeyExchange = []tls.CurveID{tls.X25519MLKEM768}

// ErrNotPostQuantum is a TLS handshake refused because the other side does not offer
// X25519MLKEM768.
var ErrNotPostQuantum = errors.New("the other side does not offer the post-quantum key exchange X25519MLKEM768 (an old build, or GODEBUG=tlsmlkem=0)")

// requirePQ checks the negotiated key exchange after the handshake: the curve preference list
// already allows nothing else; this guards it against a change in crypto/tls defaults.
func requirePQ(cs tls.ConnectionState) error {
	if cs.CurveID != tls.X25519MLKEM768 {
		return fmt.Errorf("%w: it negotiated %v", ErrNotPostQuantum, cs.CurveID)
	}
	return nil
}

// notPQ reports whether a failed handshake failed for want of a shared post-quantum group.
func notPQ(err error) bool {
	return errors.Is(err, ErrNotPostQuantum) || strings.Contains(err.Error(), "no ECDHE curve supported") || strings.Contains(err.Error(), "no key exchanges supported") ||
		strings.Contains(err.Error(), "no supported elliptic curves") || strings.Contains(err.Error(), "CurvePreferences includes no supported curves")
}

func (n *Node) serverTLS() *tls.Config {
	return &tls.Config{
		Certificates:     []tls.Certificate{n.cfg.Identity.Cert},
		ClientAuth:       tls.RequestClientCert, // relays present their node certificate, clients none
		NextProtos:       []string{ALPN},
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: pqKeyExchange,
		VerifyConnection: requirePQ,
	}
}

// clientTLS verifies a pin when given; otherwise any certificate is accepted (opportunistic:
// the link is encrypted, the peer unauthenticated). The key exchange must be post-quantum.
func clientTLS(id *Identity, pin string) *tls.Config { return clientTLSFor(id, pin, true) }

// clientTLSFor is clientTLS; pq false is for Echo links, which take what Echo nodes offer.
func clientTLSFor(id *Identity, pin string, pq bool) *tls.Config {
	c := &tls.Config{
		InsecureSkipVerify: true, // self-signed node certificates; verified by pin below
		NextProtos:         []string{ALPN},
		MinVersion:         tls.VersionTLS13,
		ServerName:         "echorelay",
		VerifyConnection: func(cs tls.ConnectionState) error {
			if pq {
				if err := requirePQ(cs); err != nil {
					return err
				}
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("relay presented no certificate")
			}
			if seen := Fingerprint(cs.PeerCertificates[0]); pin != "" && seen != pin {
				return &wrongRelay{expected: pin, seen: seen}
			}
			return nil
		},
	}
	if pq {
		c.CurvePreferences = pqKeyExchange
	}
	if id != nil {
		c.Certificates = []tls.Certificate{id.Cert}
	}
	return c
}

// ErrWrongRelay is a TLS link refused because the relay presented another fingerprint than
// the one pinned (a peers-file pin, or DialClientOptions.RelayFingerprint): someone else
// answers at that address, or the relay's node key was replaced.
var ErrWrongRelay = errors.New("the relay is not the one expected")

// wrongRelay is ErrWrongRelay with both fingerprints, in full so they can be compared with what
// `echorelay fingerprint` prints.
type wrongRelay struct{ expected, seen string }

func (e *wrongRelay) Error() string {
	return fmt.Sprintf("%s: its fingerprint %s does not match the pin %s", ErrWrongRelay, e.seen, e.expected)
}

func (e *wrongRelay) Unwrap() error { return ErrWrongRelay }

func peerFingerprint(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return Fingerprint(cs.PeerCertificates[0])
}
