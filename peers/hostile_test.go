package peers

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
	"github.com/quic-go/quic-go"
)

// Hostile and broken input against an in-process node with a real SQLite store and real
// sockets on loopback: raw TLS and QUIC connections write what a broken or malicious peer would.
// Each case ends with a clear error or a clean close counted under its reason, and a
// well-behaved client's put and get keep their normal latency meanwhile.

// normalLatency bounds a well-behaved client's connect, put and get while an attack runs: not
// a speed target, a "still served" check (an attack that blocks the node's accept loop or
// store for its timeouts overruns it). It scales with testutil.Timeout, so the race detector,
// emulation or ECHORELAY_TEST_SCALE stretch it.
func normalLatency() time.Duration { return testutil.Timeout(5 * time.Second) }

type testNode struct {
	*Node
	st   *store.Store
	path string
}

// startTestNode runs a node with the given config over a real store.
func startTestNode(t *testing.T, cfg Config, so store.Options, limits echo.Limits) *testNode {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.db")
	st, err := store.Open(path, so)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Identity == nil {
		id, err := LoadOrCreateIdentity(dir)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Identity = id
	}
	rc := echo.Config{Store: relaystore.New(st), Limits: limits}
	if cfg.ReconcileEvery > 0 {
		rc.Set = relaystore.New(st)
	}
	cfg.Relay = echo.NewRelay(rc)
	cfg.Listen = "127.0.0.1:0"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	tn := &testNode{Node: n, st: st, path: path}
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return tn
}

// stop closes the node and its store (for integrity checks).
func (tn *testNode) stop(t *testing.T) {
	tn.Close()
	if err := tn.st.Close(); err != nil {
		t.Fatal(err)
	}
}

func (tn *testNode) addr(scheme string) string { return scheme + "://127.0.0.1:" + itoa(tn.Port()) }

// client dials tn as a client over scheme; the client is closed when the test ends.
func (tn *testNode) client(t *testing.T, ctx context.Context, scheme string) *Client {
	t.Helper()
	c, err := DialClient(ctx, tn.addr(scheme))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is one connection that writes whatever a test wants.
type rawConn struct {
	t    *testing.T
	s    stream
	r    *bufio.Reader
	side *quicSide
}

// rawDial connects over "quic" or "tls", presenting id's certificate when id is not nil.
func rawDial(t *testing.T, tn *testNode, scheme string, id *Identity) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	p := Peer{Scheme: scheme, Addr: "127.0.0.1:" + itoa(tn.Port())}
	rc := &rawConn{t: t}
	var err error
	if scheme == SchemeTLS {
		rc.s, err = dialTLS(ctx, p, id)
	} else {
		udp, uerr := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if uerr != nil {
			t.Fatal(uerr)
		}
		rc.side = &quicSide{udp: udp, tr: newClientTransport(udp)}
		rc.s, err = rc.side.dial(ctx, p, id)
	}
	if err != nil {
		t.Fatalf("raw %s dial: %v", scheme, err)
	}
	rc.r = bufio.NewReaderSize(rc.s.rw, 64<<10)
	t.Cleanup(rc.close)
	return rc
}

func (rc *rawConn) close() {
	rc.s.close(0, "")
	if rc.side != nil {
		rc.side.tr.Close()
		rc.side.udp.Close()
	}
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	rc.s.setDeadline(false, time.Now().Add(testutil.Timeout(10*time.Second)))
	if _, err := rc.s.rw.Write(b); err != nil {
		rc.t.Fatalf("raw write: %v", err)
	}
}

func (rc *rawConn) writeFrame(f echo.Frame) { rc.t.Helper(); rc.write(f.Marshal()) }

// hello sends a HELLO; listenPort matters only for role relay.
func (rc *rawConn) hello(role uint8) {
	rc.t.Helper()
	rc.writeFrame(echo.Hello{Version: echo.Version, Role: role, ListenPort: 9}.Frame())
}

// closeWrite ends the sending direction cleanly (TLS close_notify or QUIC FIN).
func (rc *rawConn) closeWrite() {
	switch w := rc.s.rw.(type) {
	case *tls.Conn:
		w.CloseWrite()
	case *quic.Stream:
		w.Close()
	}
}

// drain reads frames until the relay closes the connection (or the bound passes, which fails)
// and returns them.
func (rc *rawConn) drain(within time.Duration) []echo.Frame {
	rc.t.Helper()
	rc.s.setDeadline(true, time.Now().Add(within))
	var fs []echo.Frame
	for {
		f, err := echo.ReadFrame(rc.r, 8<<20)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				rc.t.Fatalf("relay did not close the connection within %s (got %d frames)", within, len(fs))
			}
			rc.close() // hang up, as a peer that read the error would
			return fs
		}
		fs = append(fs, f)
	}
}

// linkError finds the link-level ERROR (req 0) among frames.
func linkError(fs []echo.Frame) *echo.Error {
	for _, f := range fs {
		if f.Type == echo.FrameError {
			if e, err := echo.ParseErrorFrame(f.Body); err == nil && e.Req == 0 {
				return e.Err
			}
		}
	}
	return nil
}

// waitCount waits until a counter reaches want (bounded by testutil.Timeout).
func waitCount(t *testing.T, what string, want int64, get func() int64) {
	t.Helper()
	if !testutil.Poll(20*time.Second, func() bool { return get() >= want }) {
		t.Fatalf("%s: %d, want %d", what, get(), want)
	}
}

func (tn *testNode) waitClose(t *testing.T, reason string, want int64) {
	t.Helper()
	waitCount(t, "closes by reason "+reason, want, func() int64 { return tn.Abuse().ClosesByReason[reason] })
}

// probe is a well-behaved client: connect, put a fresh blob, fetch it back by its tag. It fails
// the test when that takes longer than normalLatency.
func probe(t *testing.T, tn *testNode) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*normalLatency())
	defer cancel()
	c, err := DialClient(ctx, tn.addr(SchemeQUIC))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	defer c.Close()
	var tag echo.Tag
	rand.Read(tag[:])
	e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Tag: tag, Payload: []byte("probe")}
	env, _ := e.Marshal()
	if env, err = c.Stamp(ctx, env); err != nil {
		t.Fatalf("probe stamp: %v", err)
	}
	id, _, err := c.Put(ctx, env)
	if err != nil {
		t.Fatalf("probe put: %v", err)
	}
	items, _, _, err := c.Fetch(ctx, []echo.Tag{tag}, 0, 0)
	if err != nil || len(items) != 1 || echo.BlobID(items[0].Envelope) != id {
		t.Fatalf("probe get: %d items, %v", len(items), err)
	}
	d := time.Since(start)
	if d > normalLatency() {
		t.Fatalf("a well-behaved client's put and get took %s under attack (bound %s)", d, normalLatency())
	}
	return d
}

func mkEnv(t *testing.T, expiry time.Time, payload int) []byte {
	t.Helper()
	e := echo.Envelope{Expiry: expiry.Unix(), Payload: make([]byte, payload)}
	rand.Read(e.Payload)
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Garbage, a 4 GiB length prefix, a truncated frame and a second HELLO, on both transports:
// an ERROR malformed (or a clean close for the truncation), counted, and others are served.
func TestHostileBytes(t *testing.T) {
	tn := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	hello := echo.Hello{Version: echo.Version, Role: echo.RoleClient}.Frame().Marshal()
	cases := []struct {
		name, reason string
		bytes        []byte
		truncate     bool
	}{
		{"garbage", "malformed", append([]byte{0xde, 0xad, 0xbe, 0xef}, make([]byte, 200)...), false},
		{"garbage after hello", "malformed", append(append([]byte(nil), hello...), 0x7f, 0xff, 0xff, 0xff, 0x99, 1, 2, 3), false},
		{"4 GiB length", "malformed", append(append([]byte(nil), hello...), 0xff, 0xff, 0xff, 0xff, byte(echo.FrameSubmit), 0, 0, 0, 1), false},
		{"4 GiB blob", "malformed", append(append([]byte(nil), hello...), 0xff, 0xff, 0xff, 0xff, byte(echo.FrameBlob)), false},
		{"zero length", "malformed", append(append([]byte(nil), hello...), 0, 0, 0, 0, 1), false},
		{"second hello", "malformed", append(append([]byte(nil), hello...), hello...), false},
		{"truncated frame", "truncated", append(append([]byte(nil), hello...), 0, 0, 0, 100, byte(echo.FrameSubmit), 0, 0, 0, 1, 1, 0), true},
	}
	for _, scheme := range []string{SchemeQUIC, SchemeTLS} {
		for _, c := range cases {
			before := tn.Abuse().ClosesByReason[c.reason]
			rc := rawDial(t, tn, scheme, nil)
			rc.write(c.bytes)
			if c.truncate {
				rc.closeWrite()
			}
			fs := rc.drain(testutil.Timeout(10 * time.Second))
			if !c.truncate { // (after a truncation the relay just hangs up; QUIC may drop its HELLO)
				if len(fs) == 0 || fs[0].Type != echo.FrameHello {
					t.Fatalf("%s %s: the relay did not greet first", scheme, c.name)
				}
				if e := linkError(fs); e == nil || e.Code != echo.CodeMalformed {
					t.Fatalf("%s %s: link error %v, want malformed", scheme, c.name, e)
				}
			}
			tn.waitClose(t, c.reason, before+1)
			probe(t, tn)
		}
	}
	if n := tn.relay.Snapshot().Rejects["malformed"]; n < 12 {
		t.Fatalf("malformed rejects counted %d, want >= 12", n)
	}
}

// Slowloris: connections that never finish TLS, never send HELLO, never finish a frame, or go
// silent, held open all at once while a well-behaved client is served; each is closed after its
// timeout and counted under its reason.
func TestSlowloris(t *testing.T) {
	// The timeouts under test. They must exceed what the test itself needs between two steps of
	// an honest connection (dial to HELLO, HELLO to SUBSCRIBE), so they scale with the machine.
	d := testutil.Timeout(time.Second)
	tn := startTestNode(t, Config{HandshakeTimeout: d, FrameTimeout: d, IdleTimeout: d}, store.Options{}, echo.Limits{})
	each := 8
	if testing.Short() {
		each = 4 // each one costs an ML-KEM handshake, slow under emulation
	}
	// Probe clients dial in 1-2 round trips, well within d; hold the attackers open meanwhile.
	for i := 0; i < each; i++ {
		c, err := net.Dial("tcp", "127.0.0.1:"+itoa(tn.Port())) // no TLS at all
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0x16, 0x03}) // half a TLS record header
		nohello := rawDial(t, tn, SchemeTLS, nil)
		nohello.write([]byte{0, 0}) // half a frame header, before HELLO
		half := rawDial(t, tn, []string{SchemeQUIC, SchemeTLS}[i%2], nil)
		half.hello(echo.RoleClient)
		half.write([]byte{0, 0, 1, 0, byte(echo.FrameSubmit), 1, 2}) // 256 announced, 2 sent
		idle := rawDial(t, tn, []string{SchemeQUIC, SchemeTLS}[i%2], nil)
		idle.hello(echo.RoleClient)
	}
	// QUIC connections that complete the handshake but never open a stream.
	for i := 0; i < each; i++ {
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		tr := newClientTransport(udp)
		defer func() { tr.Close(); udp.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
		_, err = tr.Dial(ctx, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tn.Port()}, clientTLS(nil, ""), quicConfig(HandshakeTimeout))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	probe(t, tn)
	tn.waitClose(t, "no_stream", int64(each))
	tn.waitClose(t, "tls_handshake", int64(each))
	tn.waitClose(t, "handshake_timeout", int64(each))
	tn.waitClose(t, "frame_timeout", int64(each))
	tn.waitClose(t, "idle", int64(each))
	probe(t, tn)
	// A subscribed client is not idle: it waits for blobs without sending anything.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := tn.client(t, ctx, SchemeTLS)
	caught := make(chan struct{})
	got := make(chan echo.Item, 1024)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		sub.Subscribe(ctx, nil, 0, func(it echo.Item) { got <- it }, func() { close(caught) })
	}()
	defer func() { cancel(); <-subDone }()
	select {
	case <-caught:
	case <-subDone:
		t.Fatal("the subscription ended before it caught up")
	case <-time.After(testutil.Timeout(10 * time.Second)):
		t.Fatal("the subscription did not catch up")
	}
	// An idle connection opened after the subscription is closed; the subscription is not.
	idleBefore := tn.Abuse().ClosesByReason["idle"]
	later := rawDial(t, tn, SchemeTLS, nil)
	later.hello(echo.RoleClient)
	tn.waitClose(t, "idle", idleBefore+1)
	// The blob goes in through the relay, not a second client: a client that went quiet after
	// its put would itself be closed as idle once d passed, and the count below is exact.
	env := mkEnv(t, time.Now().Add(time.Hour), 10)
	id := echo.BlobID(env)
	relayPut(t, tn.Node, env)
	timeout := time.After(testutil.Timeout(10 * time.Second))
	for {
		select {
		case it := <-got:
			if echo.BlobID(it.Envelope) != id {
				continue
			}
		case <-timeout:
			t.Fatal("the subscribed client was cut off")
		}
		break
	}
	if n := tn.Abuse().ClosesByReason["idle"]; n != idleBefore+1 {
		t.Fatalf("idle closes %d, want %d: a subscribed client was closed as idle", n, idleBefore+1)
	}
}

// Expired, far-future and oversized envelopes are answered with their typed error and the link
// stays usable.
func TestHostileEnvelopes(t *testing.T) {
	t.Parallel()
	limits := echo.DefaultLimits()
	limits.MaxBlob = 4096
	tn := startTestNode(t, Config{}, store.Options{}, limits)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	for _, scheme := range []string{SchemeQUIC, SchemeTLS} {
		c, err := DialClient(ctx, tn.addr(scheme))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		cases := []struct {
			name string
			env  []byte
			want error
		}{
			{"expired", mkEnv(t, now.Add(-time.Minute), 10), echo.ErrExpired},
			{"expiring now", mkEnv(t, now, 10), echo.ErrExpired},
			{"far future", mkEnv(t, now.Add(limits.MaxTTL+time.Hour), 10), echo.ErrTooFarFuture},
			{"oversized in frame", mkEnv(t, now.Add(time.Hour), 4096-47+10), echo.ErrTooLarge},
			{"oversized past max_frame", mkEnv(t, now.Add(time.Hour), 100000), echo.ErrTooLarge},
			{"malformed envelope", []byte{1, 0, 0, 0}, echo.ErrMalformed},
		}
		for _, k := range cases {
			_, _, err := c.Put(ctx, k.env)
			if !errors.Is(err, k.want) {
				t.Fatalf("%s %s: %v, want %v", scheme, k.name, err, k.want)
			}
		}
		if _, _, err := c.Put(ctx, mkEnv(t, now.Add(time.Hour), 100)); err != nil {
			t.Fatalf("%s: a good put after the refusals: %v", scheme, err)
		}
		c.Close()
	}
	r := tn.relay.Snapshot().Rejects
	if r["expired"] != 4 || r["too_far_future"] != 2 || r["too_large"] != 4 {
		t.Fatalf("rejects %v", r)
	}
}

// A relay asking for stamps refuses SUBMITs without one or with a worthless one, typed
// stamp_required, accepts a computed one, and never asks neighbours.
func TestStampsRequired(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{StampBits: 10}, store.Options{}, echo.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	c := tn.client(t, ctx, SchemeQUIC)
	if c.Hello().StampBits != 10 {
		t.Fatalf("HELLO stamp_bits %d, want 10", c.Hello().StampBits)
	}
	env := mkEnv(t, time.Now().Add(time.Hour), 50)
	if _, _, err := c.Put(ctx, env); !errors.Is(err, echo.ErrStampRequired) {
		t.Fatalf("no stamp: %v", err)
	}
	// Worthless stamps: random bytes until one is worth less than 10 bits (almost always the first).
	e, _ := echo.ParseEnvelope(env)
	for i := 0; i < 100; i++ {
		e.Stamp = make([]byte, 8)
		rand.Read(e.Stamp)
		bad, _ := e.Marshal()
		if cost, _ := echo.StampCost(bad); cost >= 10 {
			continue
		}
		if _, _, err := c.Put(ctx, bad); !errors.Is(err, echo.ErrStampRequired) {
			t.Fatalf("worthless stamp: %v", err)
		}
		break
	}
	stamped, err := c.Stamp(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Put(ctx, stamped); err != nil {
		t.Fatalf("stamped put: %v", err)
	}
	// A larger, longer-lived blob costs more (bytes x lifetime, FeatureStampScaled): 2 blocks
	// of 64 KiB for 7 days ask 4 bits more; a stamp of the base cost is refused, the one Stamp
	// computes from the HELLO is taken.
	if c.Hello().Features&echo.FeatureStampScaled == 0 {
		t.Fatal("the relay does not announce scaled stamp costs")
	}
	rejects := int64(2)
	big := mkEnv(t, time.Now().Add(7*24*time.Hour), 100<<10)
	low, err := echo.StampEnvelope(ctx, big, 10)
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := echo.StampCost(low); cost < 14 {
		if _, _, err := c.Put(ctx, low); !errors.Is(err, echo.ErrStampRequired) {
			t.Fatalf("a base-cost stamp on a week-long 100 KiB blob: %v", err)
		}
		rejects++
	}
	if stamped, err = c.Stamp(ctx, big); err != nil {
		t.Fatal(err)
	}
	if cost, _ := echo.StampCost(stamped); cost < 14 {
		t.Fatalf("Stamp computed %d bits for a week-long 100 KiB blob, want 14", cost)
	}
	if _, _, err := c.Put(ctx, stamped); err != nil {
		t.Fatalf("stamped week-long put: %v", err)
	}
	if n := tn.relay.Snapshot().Rejects["stamp_required"]; n != rejects {
		t.Fatalf("stamp_required counted %d, want %d", n, rejects)
	}
	// A neighbour's BLOB without a stamp is taken.
	nb := neighbours(t, tn, 1)[0]
	plain := mkEnv(t, time.Now().Add(time.Hour), 60)
	nb.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: plain})
	waitCount(t, "stored", 2, func() int64 { return tn.relay.Snapshot().Stored })
}

// A rate-limited client gets rate_limited with a retry_after that works, also after
// reconnecting, while another address is not affected.
func TestRateLimitedClient(t *testing.T) {
	tn := startTestNode(t, Config{Rates: RateLimits{SubmitsPerSec: 1, SubmitBurst: 3}}, store.Options{}, echo.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	// Both connections are dialed before the first put: the bucket refills at 1/s, so the
	// handshakes (slow under load or the race detector) must not fall between the puts.
	var cs []*Client
	for _, scheme := range []string{SchemeQUIC, SchemeTLS} {
		cs = append(cs, tn.client(t, ctx, scheme))
	}
	var refused *echo.Error
	for i := 0; i < 2 && refused == nil; i++ { // the second connection shares the address's bucket
		c := cs[i]
		for j := 0; j < 3; j++ {
			_, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 10))
			if err != nil {
				if !errors.As(err, &refused) || refused.Code != echo.CodeRateLimited {
					t.Fatalf("put %d/%d: %v, want rate_limited", i, j, err)
				}
				if i == 0 {
					t.Fatalf("refused within the burst: %v", err)
				}
				break
			}
		}
	}
	if refused == nil {
		t.Fatal("never rate limited")
	}
	if refused.RetryAfter <= 0 || refused.RetryAfter > time.Second+time.Millisecond {
		t.Fatalf("retry_after %s, want (0, 1s]", refused.RetryAfter)
	}
	c := tn.client(t, ctx, SchemeQUIC)
	// Not synchronisation: waiting retry_after is the behaviour under test, and the node's
	// bucket refills by the wall clock, so load can only make this wait longer than needed
	// (more tokens), never too short. (The node has no injectable clock and serves only real
	// sockets, so it cannot run in a synctest bubble; TestLimiterPerAddressAndBounded covers
	// the arithmetic with explicit times.)
	time.Sleep(refused.RetryAfter) // what a client is told to do
	if _, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 10)); err != nil {
		t.Fatalf("put after retry_after: %v", err)
	}
	if tn.Abuse().RateLimited != 1 || tn.relay.Snapshot().Rejects["rate_limited"] != 1 {
		t.Fatalf("rate_limited counted %d / %d", tn.Abuse().RateLimited, tn.relay.Snapshot().Rejects["rate_limited"])
	}
}

// neighbours makes k identities, lists their pins in the node's peers, and connects each as a
// relay over QUIC; the returned connections have sent HELLO and been admitted.
func neighbours(t *testing.T, tn *testNode, k int) []*rawConn {
	t.Helper()
	var ids []*Identity
	var ps []Peer
	for i := 0; i < k; i++ {
		id, err := LoadOrCreateIdentity(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		// Port 9 (discard) on loopback: the node's dialers fail and back off; the links are
		// the inbound ones below, recognised by pin.
		ps = append(ps, Peer{Scheme: SchemeQUIC, Addr: "127.0.0.1:9", Pin: id.Fingerprint})
	}
	tn.SetPeers(ps)
	base := tn.relay.Snapshot().Neighbours
	var rcs []*rawConn
	for _, id := range ids {
		rc := rawDial(t, tn, SchemeQUIC, id)
		rc.hello(echo.RoleRelay)
		rcs = append(rcs, rc)
	}
	waitCount(t, "neighbours up", int64(base+k), func() int64 { return int64(tn.relay.Snapshot().Neighbours) })
	return rcs
}

// readBlobs reads a neighbour connection's frames and reports each distinct BLOB's ID.
func (rc *rawConn) readBlobs() <-chan echo.ID {
	ch := make(chan echo.ID, 4096)
	go func() {
		defer close(ch)
		seen := map[echo.ID]bool{}
		for {
			f, err := echo.ReadFrame(rc.r, 8<<20)
			if err != nil {
				return
			}
			if f.Type == echo.FrameBlob {
				id := echo.BlobID(f.Body)
				if !seen[id] {
					seen[id] = true
					ch <- id
				}
			}
		}
	}()
	return ch
}

// The same blob flooded from many neighbour links is stored once; the rest count as duplicates.
func TestSameBlobFromManyLinks(t *testing.T) {
	tn := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	const k = 6
	ns := neighbours(t, tn, k)
	env := mkEnv(t, time.Now().Add(time.Hour), 5000)
	for round := 0; round < 20; round++ {
		for _, nb := range ns {
			nb.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: env})
		}
	}
	waitCount(t, "stored and duplicates", 20*k, func() int64 { s := tn.relay.Snapshot(); return s.Stored + s.Duplicates })
	s := tn.relay.Snapshot()
	if s.Stored != 1 || s.Duplicates != 20*k-1 {
		t.Fatalf("stored %d duplicates %d, want 1 and %d", s.Stored, s.Duplicates, 20*k-1)
	}
	if st := tn.st.Stats(); st.Blobs != 1 {
		t.Fatalf("store holds %d blobs", st.Blobs)
	}
	probe(t, tn)
}

// A neighbour that never reads: its flood queue fills, further blobs for it are dropped and
// counted, the other neighbour receives every blob, clients are served; with a short write
// timeout the stuck link is closed and counted.
func TestNeighbourNeverReads(t *testing.T) {
	// The short write timeout must still be long enough that the reading neighbour, descheduled
	// on a loaded machine, is not closed by it too: it scales.
	for _, wt := range []time.Duration{0, testutil.Timeout(time.Second)} {
		tn := startTestNode(t, Config{QueueBytes: 256 << 10, WriteTimeout: wt}, store.Options{}, echo.Limits{})
		ns := neighbours(t, tn, 2)
		stuck, reader := ns[0], ns[1]
		got := reader.readBlobs()
		_ = stuck // never reads
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(30*time.Second))
		c := tn.client(t, ctx, SchemeQUIC)
		const blobs = 64 // 4 MiB: past the queue and the QUIC windows of the stuck link
		want := map[echo.ID]bool{}
		for i := 0; i < blobs; i++ {
			id, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 64<<10))
			if err != nil {
				t.Fatal(err)
			}
			want[id] = true
		}
		probe(t, tn)
		for len(want) > 0 {
			select {
			case id, ok := <-got:
				if !ok {
					t.Fatalf("the reading neighbour's link closed with %d blobs missing", len(want))
				}
				delete(want, id)
			case <-ctx.Done():
				t.Fatalf("the reading neighbour is missing %d blobs", len(want))
			}
		}
		if wt == 0 {
			if d := tn.relay.Snapshot().QueueDrops; d == 0 {
				t.Fatal("no queue drops counted for the neighbour that never reads")
			}
		} else {
			tn.waitClose(t, "write_timeout", 1)
		}
		c.Close()
		cancel()
	}
}

// Disk full (max_page_count): submitters get store_full, a new blob from a neighbour is still
// flooded to the other neighbour (once), fetches work, and the file passes integrity_check.
func TestStoreFullKeepsForwarding(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{}, store.Options{MaxPageCount: 64, MaxLogBytes: 256 << 10}, echo.Limits{}) // 256 KiB file and log
	ns := neighbours(t, tn, 2)
	from, to := ns[0], ns[1]
	got := to.readBlobs()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(30*time.Second))
	defer cancel()
	c := tn.client(t, ctx, SchemeTLS)
	var acked []echo.ID
	full := false
	for i := 0; i < 200 && !full; i++ {
		id, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 8<<10))
		switch {
		case err == nil:
			acked = append(acked, id)
		case errors.Is(err, echo.ErrStoreFull):
			full = true
		default:
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if !full || len(acked) == 0 {
		t.Fatalf("store never full (%d acked)", len(acked))
	}
	// Drain what was flooded of the acked blobs.
	for range acked {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatal("acked blobs were not flooded")
		}
	}
	big := mkEnv(t, time.Now().Add(time.Hour), 32<<10) // cannot fit where 8 KiB did not
	fullBefore := tn.relay.Snapshot().Rejects["store_full"]
	from.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: big})
	select {
	case id := <-got:
		if id != echo.BlobID(big) {
			t.Fatalf("flooded %s, want the neighbour's blob", id.Short())
		}
	case <-ctx.Done():
		t.Fatal("a full relay did not forward a new blob")
	}
	// Sent again, it is not flooded again.
	from.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: big})
	waitCount(t, "store_full rejects", fullBefore+2, func() int64 { return tn.relay.Snapshot().Rejects["store_full"] })
	if s := tn.relay.Snapshot(); s.FloodedUnstored != 1 {
		t.Fatalf("flooded unstored %d, want 1", s.FloodedUnstored)
	}
	items, _, _, err := c.Fetch(ctx, nil, 0, 0)
	if err != nil || len(items) != len(acked) {
		t.Fatalf("fetch from a full store: %d items (want %d), %v", len(items), len(acked), err)
	}
	tn.stop(t)
	if err := store.IntegrityCheck(ctx, tn.path); err != nil {
		t.Fatal(err)
	}
}

// Connection caps: over MaxConnsPerIP (and over MaxConns) a new connection is refused at once
// and counted, the ones already open keep working, and a slot frees when one closes.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{MaxConnsPerIP: 3, MaxConns: 5}, store.Options{}, echo.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	var held []*Client
	for i := 0; i < 3; i++ {
		c, err := DialClient(ctx, tn.addr([]string{SchemeQUIC, SchemeTLS}[i%2]))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	for _, scheme := range []string{SchemeTLS, SchemeQUIC} {
		if c, err := DialClient(ctx, tn.addr(scheme)); err == nil {
			// QUIC may finish its handshake before the refusal arrives; the link is dead anyway.
			_, _, err = c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 1))
			c.Close()
			if err == nil {
				t.Fatalf("%s: a 4th connection from one address was served", scheme)
			}
		}
	}
	waitCount(t, "refused per address", 2, func() int64 { return tn.Abuse().RefusedPerIP })
	if n := tn.Abuse().ClosesByReason["per_ip"]; n != 2 {
		t.Fatalf("per_ip closes %d, want 2", n)
	}
	for _, c := range held {
		if _, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 10)); err != nil {
			t.Fatalf("a held connection stopped working: %v", err)
		}
	}
	held[0].Close()
	waitCount(t, "connections after a close", 3, func() int64 { return int64(5 - tn.Abuse().Conns) })
	c, err := DialClient(ctx, tn.addr(SchemeTLS))
	if err != nil {
		t.Fatalf("a freed slot was not reusable: %v", err)
	}
	defer c.Close()
	if _, _, err := c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 10)); err != nil {
		t.Fatal(err)
	}
}

// A neighbour over its BLOB bucket is read slower, not dropped: every blob is stored and the
// waits are counted.
func TestNeighbourBackpressure(t *testing.T) {
	// The rate falls as the machine slows (race detector, emulation), so that the 60 blobs
	// still arrive faster than the bucket refills and the reader must wait.
	rate := 100 / testutil.Scale()
	tn := startTestNode(t, Config{Rates: RateLimits{NeighbourBlobs: rate, NeighbourBurst: 10}}, store.Options{}, echo.Limits{})
	nb := neighbours(t, tn, 1)[0]
	const n = 60
	for i := 0; i < n; i++ {
		nb.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: mkEnv(t, time.Now().Add(time.Hour), 100)})
	}
	probe(t, tn)
	waitCount(t, "stored", n+1, func() int64 { return tn.relay.Snapshot().Stored })
	if w := tn.Abuse().NeighbourWaits; w == 0 {
		t.Fatal("60 blobs against a burst of 10 never waited")
	}
	if s := tn.relay.Snapshot(); s.Rejects["rate_limited"] != 0 || s.Stored != n+1 {
		t.Fatalf("stored %d, rejects %v", s.Stored, s.Rejects)
	}
}

// Random UDP datagrams at the QUIC port (not QUIC, or QUIC-looking junk) are dropped by the
// transport; clients keep being served.
func TestUDPGarbage(t *testing.T) {
	tn := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	c, err := net.Dial("udp", "127.0.0.1:"+itoa(tn.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 1200)
	for i := 0; i < 2000; i++ {
		rand.Read(b)
		if i%2 == 0 {
			b[0] = 0xc0 // a long-header (Initial-looking) packet
		}
		c.Write(b)
	}
	probe(t, tn)
}

// Invalid BLOBs from a neighbour (expired, too far in the future, oversized, malformed) are
// dropped and counted, never answered, and the link stays up for the next valid one.
func TestNeighbourInvalidBlobs(t *testing.T) {
	t.Parallel()
	limits := echo.DefaultLimits()
	limits.MaxBlob = 4096
	tn := startTestNode(t, Config{}, store.Options{}, limits)
	nb := neighbours(t, tn, 1)[0]
	now := time.Now()
	for _, env := range [][]byte{
		mkEnv(t, now.Add(-time.Minute), 10),
		mkEnv(t, now.Add(limits.MaxTTL+time.Hour), 10),
		mkEnv(t, now.Add(time.Hour), 4096-47+10),
		{1, 0, 0},
	} {
		nb.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: env})
	}
	good := mkEnv(t, now.Add(time.Hour), 10)
	nb.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: good})
	waitCount(t, "stored", 1, func() int64 { return tn.relay.Snapshot().Stored })
	r := tn.relay.Snapshot().Rejects
	if r["expired"] != 1 || r["too_far_future"] != 1 || r["too_large"] != 1 || r["malformed"] != 1 {
		t.Fatalf("rejects %v", r)
	}
	// Nothing was answered: the link answers frames in order, so a PING sent after the BLOBs
	// is answered after anything the BLOBs drew; up to its PONG the only frame the neighbour
	// got is the relay's HELLO.
	nb.writeFrame(echo.PingFrame(4242))
	nb.s.setDeadline(true, time.Now().Add(testutil.Timeout(10*time.Second)))
	for {
		f, err := echo.ReadFrame(nb.r, 8<<20)
		if err != nil {
			t.Fatalf("no PONG from the relay: %v", err)
		}
		if f.Type == echo.FramePong {
			if nonce, err := echo.ParseNonce(f.Body); err != nil || nonce != 4242 {
				t.Fatalf("pong %d %v, want 4242", nonce, err)
			}
			break
		}
		if f.Type != echo.FrameHello {
			t.Fatalf("the relay answered a neighbour's bad BLOB with frame type %d", f.Type)
		}
	}
	if tn.relay.Snapshot().Neighbours != 1 {
		t.Fatal("the neighbour's link was closed")
	}
}
