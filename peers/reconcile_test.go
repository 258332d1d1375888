package peers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// startReconNode runs a real node with reconciliation on (periodic runs far away).
func startReconNode(t *testing.T) (*Node, *store.Store) {
	t.Helper()
	tn := startTestNode(t, Config{ReconcileEvery: time.Hour}, store.Options{}, echo.Limits{})
	return tn.Node, tn.st
}

// rawLink is a hand-driven link to a node over TCP+TLS: a fake neighbour or client that
// sends exactly the frames a test gives it.
type rawLink struct {
	t     *testing.T
	s     stream
	r     *bufio.Reader
	id    *Identity
	hello echo.Hello // the node's
}

// dialRaw connects to n; as a relay (a neighbour pinned in n's peers file) when neighbour,
// otherwise as a client. It exchanges HELLOs.
func dialRaw(t *testing.T, n *Node, neighbour bool) *rawLink {
	t.Helper()
	if !neighbour {
		return dialRawAs(t, n, nil)
	}
	id, err := LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dialRawAs(t, n, id)
}

// dialRawAs connects as the neighbour with this identity, or as a client when id is nil.
func dialRawAs(t *testing.T, n *Node, id *Identity) *rawLink {
	t.Helper()
	role := uint8(echo.RoleClient)
	if id != nil {
		role = echo.RoleRelay
		// The address is never reachable: n's dialer to it just backs off.
		n.SetPeers([]Peer{{Scheme: SchemeTLS, Addr: "127.0.0.1:1", Pin: id.Fingerprint}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	s, err := dialTLS(ctx, Peer{Scheme: SchemeTLS, Addr: "127.0.0.1:" + itoa(n.Port()), Pin: n.Fingerprint()}, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close(0, "") })
	rl := &rawLink{t: t, s: s, r: bufio.NewReader(s.rw), id: id}
	rl.send(echo.Hello{Version: echo.Version, Role: role, Features: echo.FeatureReconcile, MaxBlob: echo.DefaultMaxBlob, MaxTTL: 3600}.Frame())
	if rl.hello, err = echo.ParseHello(rl.next(echo.FrameHello).Body); err != nil {
		t.Fatal(err)
	}
	if n.recon != nil && rl.hello.Features&echo.FeatureReconcile == 0 {
		t.Fatalf("node HELLO %+v does not offer reconciliation", rl.hello)
	}
	return rl
}

func (rl *rawLink) send(f echo.Frame) {
	rl.t.Helper()
	if _, err := rl.s.rw.Write(f.Marshal()); err != nil {
		rl.t.Fatal(err)
	}
}

// read returns the next frame, or the error that ended the link.
func (rl *rawLink) read() (echo.Frame, error) {
	rl.s.setDeadline(true, time.Now().Add(testutil.Timeout(10*time.Second)))
	return echo.ReadFrame(rl.r, echo.DefaultMaxBlob+echo.MaxFrameExtra)
}

// next skips frames (such as a RECON of a session the node starts itself) until one of the
// given type arrives.
func (rl *rawLink) next(t echo.FrameType) echo.Frame {
	rl.t.Helper()
	for i := 0; i < 1000; i++ {
		f, err := rl.read()
		if err != nil {
			rl.t.Fatalf("waiting for frame %#x: %v", t, err)
		}
		if f.Type == t {
			return f
		}
	}
	rl.t.Fatalf("no frame %#x in 1000", t)
	return echo.Frame{}
}

// expectClosed reads until the node ends the link and returns the link-level ERROR it sent,
// if any.
func (rl *rawLink) expectClosed() *echo.Error {
	rl.t.Helper()
	var last *echo.Error
	for i := 0; i < 1000; i++ {
		f, err := rl.read()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				rl.t.Fatal("the node kept the link open")
			}
			return last
		}
		if f.Type == echo.FrameError {
			if e, err := echo.ParseErrorFrame(f.Body); err == nil && e.Req == 0 {
				last = e.Err
			}
		}
	}
	rl.t.Fatal("the node kept the link open")
	return nil
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// The node answers a neighbour's session like the protocol says: HAVE for what the neighbour
// lacks, WANT for what it lacks itself, BLOBs and WANT_END for the neighbour's WANT; a blob
// received that way is stored.
func TestReconcileResponder(t *testing.T) {
	t.Parallel()
	n, st := startReconNode(t)
	var held []echo.ID
	for _, p := range []string{"one", "two", "three"} {
		env := envelope(t, p)
		relayPut(t, n, env)
		held = append(held, echo.BlobID(env))
	}
	rl := dialRaw(t, n, true)
	mine := envelope(t, "only the neighbour has this")
	floor := uint64(time.Now().Add(time.Minute).Unix())
	rl.send(echo.Recon{Session: 77, Floor: floor, Ranges: []echo.Range{{Upper: echo.MaxKey, Mode: echo.ModeIDList, IDs: []echo.ID{echo.BlobID(mine)}}}}.Frame())

	var reply echo.Recon
	var want echo.Want
	for reply.Session != 77 || want.Req == 0 {
		f, err := rl.read()
		if err != nil {
			t.Fatal(err)
		}
		switch f.Type {
		case echo.FrameRecon:
			m, err := echo.ParseRecon(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			if m.Session == 77 {
				reply = m
			}
		case echo.FrameWant:
			if want, err = echo.ParseWant(f.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(reply.Ranges) != 1 || reply.Ranges[0].Mode != echo.ModeHave {
		t.Fatalf("answer %+v, want one HAVE range", reply)
	}
	got := slices.Clone(reply.Ranges[0].IDs)
	slices.SortFunc(got, func(a, b echo.ID) int { return slices.Compare(a[:], b[:]) })
	slices.SortFunc(held, func(a, b echo.ID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(got, held) {
		t.Fatalf("HAVE lists %d ids, want the node's 3", len(got))
	}
	if len(want.IDs) != 1 || want.IDs[0] != echo.BlobID(mine) {
		t.Fatalf("node wants %d ids, want exactly the one it lacks", len(want.IDs))
	}
	rl.send(echo.Frame{Type: echo.FrameBlob, Body: mine})
	rl.send(echo.WantEnd{Req: want.Req}.Frame())
	rl.send(echo.Recon{Session: 77, Floor: floor}.Frame()) // done

	// Our WANT: two held blobs and an unknown ID.
	rl.send(echo.Want{Req: 9, IDs: []echo.ID{held[0], {1, 2, 3}, held[2]}}.Frame())
	blobs := map[echo.ID]bool{}
	for {
		f, err := rl.read()
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == echo.FrameBlob {
			blobs[echo.BlobID(f.Body)] = true
		}
		if f.Type == echo.FrameWantEnd {
			e, err := echo.ParseWantEnd(f.Body)
			if err != nil || e.Req != 9 || e.Missing != 1 {
				t.Fatalf("WANT_END %+v %v, want req 9 missing 1", e, err)
			}
			break
		}
	}
	if len(blobs) != 2 || !blobs[held[0]] || !blobs[held[2]] {
		t.Fatalf("WANT answered with %d blobs", len(blobs))
	}
	testutil.Eventually(t, 10*time.Second, "the wanted blob to be stored", func() bool {
		ok, _ := st.Has(echo.BlobID(mine))
		return ok
	})
	if !testutil.Poll(10*time.Second, func() bool { return n.ReconcileStats().Sessions >= 1 }) {
		t.Fatalf("session not finished: %+v", n.ReconcileStats())
	}
	if s := n.ReconcileStats(); s.Wanted != 1 || s.Served != 2 {
		t.Fatalf("stats %+v: want 1 wanted, 2 served", s)
	}
}

// relayPut stores an envelope through the node's relay, as a client's SUBMIT would.
func relayPut(t *testing.T, n *Node, env []byte) {
	t.Helper()
	done := make(chan error, 1)
	n.relay.Accept(env, nil, func(_ echo.ID, _ bool, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Broken or hostile reconciliation frames close the link with a clear error; the node keeps
// serving and loses nothing.
func TestReconcileHostileFrames(t *testing.T) {
	t.Parallel()
	n, st := startReconNode(t)
	keep := envelope(t, "kept through all of this")
	relayPut(t, n, keep)
	floor := uint64(time.Now().Add(time.Minute).Unix())
	good := echo.Recon{Session: 5, Floor: floor, Ranges: []echo.Range{{Upper: echo.MaxKey, Mode: echo.ModeIDList}}}.Frame()

	cases := []struct {
		name      string
		neighbour bool
		frames    []echo.Frame
		want      echo.Code
	}{
		{"recon from a client", false, []echo.Frame{good}, echo.CodeNotNeighbour},
		{"want from a client", false, []echo.Frame{echo.Want{Req: 1, IDs: []echo.ID{{1}}}.Frame()}, echo.CodeNotNeighbour},
		{"truncated recon", true, []echo.Frame{{Type: echo.FrameRecon, Body: good.Body[:len(good.Body)-3]}}, echo.CodeMalformed},
		{"recon bounds falling", true, []echo.Frame{echo.Recon{Session: 5, Floor: floor, Ranges: []echo.Range{{Upper: echo.MaxKey}, {Upper: echo.Key{Expiry: floor + 1}}}}.Frame()}, echo.CodeMalformed},
		{"empty want", true, []echo.Frame{{Type: echo.FrameWant, Body: []byte{0, 0, 0, 1, 0, 0}}}, echo.CodeMalformed},
		{"short want end", true, []echo.Frame{{Type: echo.FrameWantEnd, Body: []byte{1}}}, echo.CodeMalformed},
		{"floor changed mid-session", true, []echo.Frame{
			echo.Recon{Session: 6, Floor: floor, Ranges: []echo.Range{{Upper: echo.MaxKey, Mode: echo.ModeFingerprint, Count: 9}}}.Frame(),
		}, echo.CodeMalformed},
	}
	for _, c := range cases {
		// Not parallel: each neighbour case lists its own identity as n's only peer.
		t.Run(c.name, func(t *testing.T) {
			rl := dialRaw(t, n, c.neighbour)
			for _, f := range c.frames {
				rl.send(f)
			}
			if c.name == "floor changed mid-session" {
				rl.next(echo.FrameRecon) // the node's answer (an ID list): now change the floor
				rl.send(echo.Recon{Session: 6, Floor: floor + 1, Ranges: []echo.Range{{Upper: echo.MaxKey, Mode: echo.ModeIDList}}}.Frame())
			}
			e := rl.expectClosed()
			if e == nil || e.Code != c.want {
				t.Fatalf("closed with %v, want %s", e, c.want)
			}
		})
	}
	if ok, err := st.Has(echo.BlobID(keep)); !ok || err != nil {
		t.Fatalf("blob lost: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	c, err := DialClient(ctx, "127.0.0.1:"+itoa(n.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Put(ctx, envelope(t, "still serving")); err != nil {
		t.Fatalf("node stopped serving: %v", err)
	}
}

// A node initiates for a neighbour with a larger fingerprint: when the link comes up, and
// again on Reconcile.
func TestReconcileInitiatesOnLinkUpAndOnDemand(t *testing.T) {
	t.Parallel()
	// Two identities: the node gets the smaller fingerprint, the neighbour the larger.
	var ids [2]*Identity
	for i := range ids {
		var err error
		if ids[i], err = LoadOrCreateIdentity(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0].Fingerprint > ids[1].Fingerprint {
		ids[0], ids[1] = ids[1], ids[0]
	}
	n := startTestNode(t, Config{ReconcileEvery: time.Hour, Identity: ids[0]}, store.Options{}, echo.Limits{}).Node
	relayPut(t, n, envelope(t, "something to describe"))
	id := ids[1]
	if id.Fingerprint <= n.Fingerprint() {
		t.Fatalf("neighbour fingerprint %s not above the node's %s", id.Fingerprint, n.Fingerprint())
	}
	// The floor is a minute past the moment the node starts the session, which lies between
	// the dial and the first RECON's arrival: bracketing it by those two instants keeps the
	// check exact however long a loaded machine takes in between.
	before := time.Now()
	rl := dialRawAs(t, n, id)
	first, err := echo.ParseRecon(rl.next(echo.FrameRecon).Body)
	after := time.Now()
	if err != nil || len(first.Ranges) != 1 || first.Ranges[0].Mode != echo.ModeIDList || len(first.Ranges[0].IDs) != 1 {
		t.Fatalf("first RECON %+v (%v): want the node's one ID", first, err)
	}
	lo, hi := uint64(before.Add(time.Minute).Unix()), uint64(after.Add(time.Minute).Unix())
	if first.Floor < lo || first.Floor > hi {
		t.Fatalf("floor %d, want a minute after the session began, in [%d, %d]", first.Floor, lo, hi)
	}
	rl.send(echo.Recon{Session: first.Session, Floor: first.Floor}.Frame()) // same set: done
	if !testutil.Poll(10*time.Second, func() bool { return n.ReconcileStats().Sessions >= 1 }) {
		t.Fatalf("session not finished: %+v", n.ReconcileStats())
	}
	n.Reconcile()
	second, err := echo.ParseRecon(rl.next(echo.FrameRecon).Body)
	if err != nil || second.Session == first.Session {
		t.Fatalf("after Reconcile: %+v %v, want a new session", second, err)
	}
}

// A node that missed thousands of blobs catches up from its neighbour over a real link and
// real SQLite stores, each blob exactly once, with the session's messages bounded.
func TestReconcileCatchUpThousands(t *testing.T) {
	t.Parallel()
	total := 5000
	if testing.Short() {
		total = 1000
	}
	a, sa := startReconNode(t)
	b, sb := startReconNode(t)
	// A holds everything, B a few of the same and a few of its own.
	var wg sync.WaitGroup
	put := func(n *Node, env []byte) {
		wg.Add(1)
		n.relay.Accept(env, nil, func(_ echo.ID, _ bool, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	for i := 0; i < total; i++ {
		env := envelope(t, fmt.Sprintf("blob %d", i))
		put(a, env)
		if i%100 == 0 {
			put(b, env)
		}
	}
	for i := 0; i < 10; i++ {
		put(b, envelope(t, fmt.Sprintf("only at B %d", i)))
	}
	wg.Wait()

	start := time.Now()
	a.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(b.Port()), Pin: b.Fingerprint()}})
	b.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(a.Port()), Pin: a.Fingerprint()}})
	if !testutil.Poll(60*time.Second, func() bool {
		return sa.Stats().Blobs == int64(total+10) && sb.Stats().Blobs == int64(total+10)
	}) {
		t.Fatalf("A holds %d, B %d blobs, want %d each; A %+v B %+v", sa.Stats().Blobs, sb.Stats().Blobs, total+10, a.ReconcileStats(), b.ReconcileStats())
	}
	took := time.Since(start)
	ra, rb := a.ReconcileStats(), b.ReconcileStats()
	if got := ra.Wanted + rb.Wanted; got != int64(total-total/100+10) {
		t.Errorf("%d IDs asked for, want exactly the %d missing", got, total-total/100+10)
	}
	if d := a.relay.Snapshot().Duplicates + b.relay.Snapshot().Duplicates; d != 0 {
		t.Errorf("%d duplicates received", d)
	}
	// Every RECON is at most MaxReconFrame (each side checks on parse); the bytes spent on
	// RECON and WANT stay a small share of the blobs moved.
	t.Logf("%d blobs caught up in %s; reconciliation traffic %d B out of A, %d B out of B, %d+%d rounds",
		total-total/100+10, took.Round(time.Millisecond), ra.BytesOut, rb.BytesOut, ra.Rounds, rb.Rounds)
}

// A relay without reconciliation does not offer it and skips the frames like unknown types:
// the link stays up.
func TestReconcileFramesSkippedWhenOff(t *testing.T) {
	t.Parallel()
	n := startNode(t) // no SetStore: reconciliation off
	rl := dialRaw(t, n, true)
	if rl.hello.Features != 0 {
		t.Fatalf("HELLO features %#x, want none", rl.hello.Features)
	}
	rl.send(echo.Recon{Session: 1, Floor: 1, Ranges: []echo.Range{{Upper: echo.MaxKey, Mode: echo.ModeIDList}}}.Frame())
	rl.send(echo.Want{Req: 1, IDs: []echo.ID{{1}}}.Frame())
	rl.send(echo.PingFrame(42))
	if nonce, err := echo.ParseNonce(rl.next(echo.FramePong).Body); err != nil || nonce != 42 {
		t.Fatalf("pong %d %v", nonce, err)
	}
}
