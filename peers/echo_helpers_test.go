package peers

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

// The Echo tests' parts (echo_backlog_test.go, echo_inbound_test.go): a real Echo node to
// link to, and a relay over a data dir and store that outlive its restarts.

// echoTestPeer is an Echo node written from the facts of issue 19 and PROTOCOL.md section 10:
// it listens (the relay dials it), advertises a lane width, and records every data message it
// receives, whole and byte for byte.
type echoTestPeer struct {
	t    *testing.T
	addr string
	lane int

	mu    sync.Mutex // guards the fields below
	ln    net.Listener
	conns []net.Conn
	data  [][]byte // data messages, marker included
	local int      // link-local messages received
	ch    chan struct{}
}

func newEchoTestPeer(t *testing.T, lane int) *echoTestPeer {
	p := &echoTestPeer{t: t, lane: lane, ch: make(chan struct{}, 1)}
	p.up("127.0.0.1:0")
	t.Cleanup(p.down)
	return p
}

// up listens on addr (again, after down) and serves every link.
func (p *echoTestPeer) up(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.serveConn(c)
		}
	}()
}

// down closes the listener and every link, as a stopped Echo node.
func (p *echoTestPeer) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *echoTestPeer) serve(c net.Conn) {
	c.Write(echo.AppendEchoMessage(nil, echo.EchoTypeCapabilities, echo.EchoCapabilities("{00000000-0000-0000-0000-00000000000b}", p.lane, true)))
	sp := echo.EchoSplitter{Max: 1 << 24}
	buf := make([]byte, 64<<10)
	for {
		k, err := c.Read(buf)
		sp.Write(buf[:k], func(msg []byte, err error) {
			m, perr := echo.ParseEchoMessage(msg)
			p.mu.Lock()
			switch {
			case err != nil || perr != nil:
				p.t.Errorf("the relay sent a message an Echo node cannot read: %v %v", err, perr)
			case echo.EchoLinkLocal(m.Type):
				p.local++
			default:
				p.data = append(p.data, append(bytes.Clone(msg), echo.EchoMarker...))
			}
			p.mu.Unlock()
			select {
			case p.ch <- struct{}{}:
			default:
			}
		})
		if err != nil {
			c.Close()
			return
		}
	}
}

// count is how many data messages equal to msg arrived.
func (p *echoTestPeer) count(msg []byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, d := range p.data {
		if bytes.Equal(d, msg) {
			n++
		}
	}
	return n
}

// wait waits until every one of msgs has arrived.
func (p *echoTestPeer) wait(t *testing.T, what string, msgs ...[]byte) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, what, func() bool {
		for _, m := range msgs {
			if p.count(m) == 0 {
				return false
			}
		}
		return true
	})
}

// echoNode is a relay over a store and data dir that outlive it, for restarts.
type echoNode struct {
	*Node
	dir  string
	st   *store.Store
	done chan struct{}
	stop context.CancelFunc
}

// startEchoLine starts a relay with cfg in a new data dir and gives it the one peers line
// spec; it returns the relay and the line. The dir and its store (r.dir, r.st) outlive the
// relay, for a restart with startEchoNode, and close after it halts.
func startEchoLine(t *testing.T, cfg Config, spec string) (*echoNode, Peer) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "cache.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	line, err := ParsePeer(spec)
	if err != nil {
		t.Fatal(err)
	}
	r := startEchoNode(t, dir, st, cfg)
	r.SetPeers([]Peer{line})
	return r, line
}

func startEchoNode(t *testing.T, dir string, st *store.Store, cfg Config) *echoNode {
	t.Helper()
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity, cfg.Listen, cfg.EchoStateDir = id, "127.0.0.1:0", dir
	cfg.Relay = echo.NewRelay(echo.Config{Store: relaystore.New(st)})
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	en := &echoNode{Node: n, dir: dir, st: st, done: make(chan struct{}), stop: cancel}
	go func() { n.Run(ctx); close(en.done) }()
	t.Cleanup(en.halt)
	return en
}

func (en *echoNode) halt() {
	en.stop()
	<-en.done
}

func (en *echoNode) put(t *testing.T, payload []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	c, err := DialClient(ctx, "quic://127.0.0.1:"+itoa(en.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Put(ctx, mustEnvelope(t, payload)); err != nil {
		t.Fatal(err)
	}
	return echo.AppendEchoPayload(nil, payload)
}

func (en *echoNode) lineState(line Peer) string {
	for _, s := range en.Neighbours() {
		if s.Peer == line.String() {
			return s.State
		}
	}
	return ""
}

func (en *echoNode) waitLine(t *testing.T, line Peer, up bool) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("the Echo line up=%v", up), func() bool {
		return (en.lineState(line) == "up") == up
	})
}

// dial connects to a relay's Echo listener as an Echo node that dials out (the way to link an
// RSA-keyed Spot-On-Lite node).
func (p *echoTestPeer) dial(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serveConn(c)
}

// dialTLS is dial over TLS 1.2, as Spot-On-Lite's client (OpenSSL 3) connects to a relay's
// echo+tls listener: it accepts any certificate.
func (p *echoTestPeer) dialTLS(t *testing.T, addr string) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: testutil.Timeout(10 * time.Second)}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	p.serveConn(c)
}

func (p *echoTestPeer) serveConn(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	go p.serve(c)
}
