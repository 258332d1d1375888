// Package relaytest starts real relays inside a test process and links them: each Relay is a
// SQLite store in a temporary directory of its own, an echo.Relay over it and a peers.Node
// serving QUIC and TCP+TLS on 127.0.0.1, the same parts a relay process runs. Tests of
// client, client/group and the web client use it to put several relays in one test and to
// stop and restart one of them on its port.
//
// It deliberately does not start a relay through internal/relayd: relayd imports the web
// client's server (internal/web), whose own tests could then not use this package, and
// relayd.Start sets the process's soft memory limit for a Pi, which would slow a test
// process holding many clients. Nor does it start the admin page, the web listener or a
// peers file: tests that need those start internal/relayd or the echorelay binary.
package relaytest

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

// Relay is one relay in the test process. Node and Store are those of the running relay:
// nil after Down, new after Up.
type Relay struct {
	Dir   string          // the data directory: node key and certificate, cache.db
	ID    *peers.Identity // the node identity, kept across Down and Up
	Node  *peers.Node
	Store *store.Store

	t    testing.TB
	port int // 0 until the first start picks one; Up listens on it again
	stop func()
}

// Start starts a relay in a new temporary directory, on a port of its own; it stops when the
// test ends.
func Start(t testing.TB) *Relay {
	t.Helper()
	dir := t.TempDir()
	id, err := peers.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{Dir: dir, ID: id, t: t}
	r.Up()
	t.Cleanup(r.Down)
	return r
}

// Up starts the relay again after Down, on its port and over its files. It fails the test when
// the relay cannot start (for example when another program took the port meanwhile).
func (r *Relay) Up() {
	r.t.Helper()
	if r.stop != nil {
		r.t.Fatal("relaytest: Up on a relay that is up")
	}
	st, err := store.Open(filepath.Join(r.Dir, "cache.db"), store.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	n, err := peers.New(peers.Config{Identity: r.ID, Relay: echo.NewRelay(echo.Config{Store: relaystore.New(st)}),
		Listen: "127.0.0.1:" + strconv.Itoa(r.port)})
	if err != nil {
		st.Close()
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	r.Node, r.Store, r.port = n, st, n.Port()
	// The node stops first, so that its in-flight writes reach the store before it closes.
	r.stop = func() { cancel(); n.Close(); <-done; st.Close() }
}

// Down stops the relay; its files stay, and Up brings it back. Down on a relay that is down
// does nothing.
func (r *Relay) Down() {
	if r.stop != nil {
		r.stop()
		r.stop, r.Node, r.Store = nil, nil, nil
	}
}

// Addr is the relay's host:port (QUIC and TCP+TLS alike).
func (r *Relay) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Peer is the peers-file line that names r over scheme (peers.SchemeQUIC or peers.SchemeTLS),
// pinned to its fingerprint.
func (r *Relay) Peer(scheme string) peers.Peer {
	return peers.Peer{Scheme: scheme, Addr: r.Addr(), Pin: r.ID.Fingerprint}
}

// StartChain starts n relays linked in a chain over scheme (see Chain) and returns them once
// every link is up.
func StartChain(t testing.TB, n int, scheme string) []*Relay {
	t.Helper()
	rs := make([]*Relay, n)
	for i := range rs {
		rs[i] = Start(t)
	}
	Chain(t, scheme, rs...)
	return rs
}

// Chain links running relays in a chain, rs[0] - rs[1] - ... - rs[n-1], over scheme: each
// lists the one before and the one after it, pinned, in place of its neighbours so far. It
// waits until every relay has as many flooding links as it has neighbours in the chain.
func Chain(t testing.TB, scheme string, rs ...*Relay) {
	t.Helper()
	for i, r := range rs {
		var ps []peers.Peer
		if i > 0 {
			ps = append(ps, rs[i-1].Peer(scheme))
		}
		if i < len(rs)-1 {
			ps = append(ps, rs[i+1].Peer(scheme))
		}
		r.Node.SetPeers(ps)
	}
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("a chain of %d relays linked over %s", len(rs), scheme), func() bool {
		for i, r := range rs {
			if len(r.Node.FloodLinks()) != degree(i, len(rs)) {
				return false
			}
		}
		return true
	})
}

// degree is the number of neighbours of place i in a chain of n.
func degree(i, n int) int {
	d := 0
	if i > 0 {
		d++
	}
	if i < n-1 {
		d++
	}
	return d
}
