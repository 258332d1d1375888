//go:build !js

package client_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/client/ratchet"
	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/internal/testutil/relaytest"
	"github.com/echorelay/echorelay/peers"
)

// netSim sits between the clients and the real relays: it records every envelope a client
// puts and, when a policy is set, loses puts (the outbox retries them) or holds envelopes to
// deliver them later (a slow path of the flooding network).
type netSim struct {
	mu     sync.Mutex
	puts   [][]byte
	policy func(env []byte) (hold bool, err error)
	held   [][]byte
}

type simConn struct {
	client.Conn
	n *netSim
}

func (c simConn) Put(ctx context.Context, env []byte) (echo.ID, bool, error) {
	c.n.mu.Lock()
	c.n.puts = append(c.n.puts, append([]byte(nil), env...))
	var hold bool
	var err error
	if c.n.policy != nil {
		hold, err = c.n.policy(env)
	}
	if hold {
		c.n.held = append(c.n.held, append([]byte(nil), env...))
	}
	c.n.mu.Unlock()
	if err != nil {
		return echo.ID{}, false, err
	}
	if hold {
		return echo.BlobID(env), false, nil
	}
	return c.Conn.Put(ctx, env)
}

func (n *netSim) dial(ctx context.Context, addr, fp string) (client.Conn, error) {
	cn, err := dial(ctx, addr, fp)
	if err != nil {
		return nil, err
	}
	return simConn{Conn: cn, n: n}, nil
}

// last returns the envelopes put since the mark.
func (n *netSim) since(mark int) [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([][]byte(nil), n.puts[mark:]...)
}

func (n *netSim) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.puts)
}

// setPolicy sets (nil: clears) what the network does with the envelopes put from now on.
func (n *netSim) setPolicy(policy func(env []byte) (hold bool, err error)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.policy = policy
}

// holdAll is the policy that holds every envelope put (takeHeld hands them out).
func holdAll([]byte) (bool, error) { return true, nil }

func (n *netSim) takeHeld() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.held
	n.held = nil
	return h
}

func newPeerDial(t *testing.T, i int, clk *clock, d client.Dialer) *peer {
	t.Helper()
	st := client.NewMemStore()
	c, err := client.New(client.Options{Identity: identity(t, i), Store: st, Dial: d, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{Client: c, id: identity(t, i), st: st}
}

func sendText(t *testing.T, p *peer, to, text string) {
	t.Helper()
	if _, err := p.SendText(ctx(t), to, text, client.SendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func texts(evs []client.Event) []string {
	var out []string
	for _, e := range evs {
		if m, ok := e.(client.MessageEvent); ok {
			out = append(out, m.Text)
		}
	}
	return out
}

func payloadOf(t *testing.T, env []byte) []byte {
	t.Helper()
	e, err := echo.ParseEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	return e.Payload
}

func sessionOf(t *testing.T, p *peer, friend string) (*client.SessionRecord, *ratchet.Session) {
	t.Helper()
	f, err := p.Friend(friend)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.st.Session(f.Fingerprint())
	if err != nil || rec == nil {
		t.Fatalf("no session with %s: %v", friend, err)
	}
	s, err := ratchet.Unmarshal(rec.State)
	if err != nil {
		t.Fatal(err)
	}
	return rec, s
}

// wantText has p read and fails unless the one text that opens is want; who names p in the
// failure. It returns the events read.
func wantText(t *testing.T, p *peer, who, want string) []client.Event {
	t.Helper()
	evs := receive(t, p)
	if got := texts(evs); len(got) != 1 || got[0] != want {
		t.Fatalf("%s got %q, want only %q", who, got, want)
	}
	return evs
}

// exchange runs rounds of alice writing to bob and bob answering, each read at once, a
// minute apart; the texts are aText and bText followed by the round's number.
func exchange(t *testing.T, clk *clock, a, b *peer, rounds int, aText, bText string) {
	t.Helper()
	for i := range rounds {
		clk.Add(time.Minute)
		sendText(t, a, "bob", fmt.Sprint(aText, i))
		receive(t, b)
		sendText(t, b, "alice", fmt.Sprint(bText, i))
		receive(t, a)
	}
}

// pairUp makes alice (a) and bob (b) friends on r and runs the session start: alice's first
// message is sealed to bob's long-term keys, bob's answer and everything after go over the
// ratchet.
func pairUp(t *testing.T) (r *relay, clk *clock, n *netSim, a, b *peer) {
	r, clk, n = startRelay(t), newClock(), &netSim{}
	a, b = newPeerDial(t, 0, clk, n.dial), newPeerDial(t, 1, clk, n.dial)
	befriend(t, r, a, "alice", b, "bob", "")
	m := n.mark()
	sendText(t, a, "bob", "hello bob")
	sealed := n.since(m)
	if len(sealed) != 1 || payloadOf(t, sealed[0])[0] != 1 {
		t.Fatalf("the first message is not sealed to the long-term keys: %d envelopes", len(sealed))
	}
	wantText(t, b, "bob", "hello bob")
	m = n.mark()
	sendText(t, b, "alice", "hello alice")
	wantText(t, a, "alice", "hello alice")
	if env := n.since(m); len(env) != 1 || payloadOf(t, env[0])[0] != ratchet.Version {
		t.Fatal("bob's answer does not go over the ratchet")
	}
	return r, clk, n, a, b
}

// TestRatchetTakesOver: after the sealed start, every message in both directions is a
// ratchet message, a 100-character text is at most 1 KiB on the wire with or without KEM
// material, expiries are whole hours, and the KEM ratchet completes epochs.
func TestRatchetTakesOver(t *testing.T) {
	_, clk, n, a, b := pairUp(t)
	long := strings.Repeat("é", 100) // 100 characters, 200 bytes
	m := n.mark()
	for i := range 12 {
		clk.Add(time.Minute)
		sendText(t, a, "bob", fmt.Sprint(long, i))
		wantText(t, b, "bob", fmt.Sprint(long, i))
		sendText(t, b, "alice", fmt.Sprint(long, i))
		wantText(t, a, "alice", fmt.Sprint(long, i))
	}
	envs := n.since(m)
	if len(envs) != 24 {
		t.Fatalf("%d envelopes for 24 texts", len(envs))
	}
	for _, env := range envs {
		if p := payloadOf(t, env); p[0] != ratchet.Version {
			t.Fatal("a message after the start is not a ratchet message")
		}
		if len(env) > 1024 {
			t.Fatalf("a 100-character text is %d bytes on the wire", len(env))
		}
		if len(env) != len(envs[0]) {
			t.Fatal("short texts differ in size (with and without KEM material)")
		}
		e, _ := echo.ParseEnvelope(env)
		if e.Expiry%3600 != 0 {
			t.Fatalf("expiry %d is not a whole hour", e.Expiry)
		}
	}
	t.Logf("a 100-character text: %d bytes on the wire", len(envs[0]))
	for _, p := range []*peer{a, b} {
		name := "bob"
		if p == b {
			name = "alice"
		}
		_, s := sessionOf(t, p, name)
		if s.KEMEpoch() < 2 {
			t.Fatalf("KEM epoch %d after 12 round trips", s.KEMEpoch())
		}
	}
}

// TestDowngradeRefused: once the friend has spoken the ratchet, a message they sealed the
// old way and dated later is refused (item 6c); one dated before the session is still read
// (item 8: old messages stored at relays).
func TestDowngradeRefused(t *testing.T) {
	r, clk, _, a, b := pairUp(t)
	af, _ := b.Friend("alice")
	now := clk.Now()
	old, _, err := seal.Seal(b.id, af.Bundle, seal.TypeText, []byte("sealed before the session"), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r.put(t, tagFrom(a, "bob", b.id, now), old)
	wantText(t, a, "alice (old format, from before the session)", "sealed before the session")
	clk.Add(time.Minute)
	now = clk.Now()
	down, _, err := seal.Seal(b.id, af.Bundle, seal.TypeText, []byte("downgraded"), now)
	if err != nil {
		t.Fatal(err)
	}
	r.put(t, tagFrom(a, "bob", b.id, now), down)
	ev := one[client.RejectedEvent](t, receive(t, a))
	if ev.Reason != client.RejectDowngrade {
		t.Fatalf("a downgraded message: %v", ev.Reason)
	}
}

// TestStateWentBack: bob restores an old copy of his session (a backup) and sends from it.
// Alice detects it, both are told, and a new session through the long-term keys carries
// the conversation on.
func TestStateWentBack(t *testing.T) {
	r, clk, _, a, b := pairUp(t)
	af, _ := b.Friend("alice")
	backup, err := b.st.Session(af.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, clk, a, b, 2, "a", "b")
	if err := b.st.PutSession(backup); err != nil {
		t.Fatal(err)
	}
	sendText(t, b, "alice", "from the restored state")
	ev := one[client.SessionResetEvent](t, only[client.SessionResetEvent](receive(t, a)))
	if ev.From != "bob" || ev.Reason != client.ResetFriendWentBack {
		t.Fatalf("alice: %#v", ev)
	}
	ev = one[client.SessionResetEvent](t, receive(t, b))
	if ev.From != "alice" || ev.Reason != client.ResetByFriend {
		t.Fatalf("bob: %#v", ev)
	}
	sendText(t, b, "alice", "after the reset")
	wantText(t, a, "alice after the reset", "after the reset")
	sendText(t, a, "bob", "and back")
	wantText(t, b, "bob after the reset", "and back")
	// The new session does not reopen the window for old-format messages: bob spoke the
	// ratchet since the first one.
	down, _, err := seal.Seal(b.id, af.Bundle, seal.TypeText, []byte("downgraded"), clk.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r.put(t, tagFrom(a, "bob", b.id, clk.Now()), down)
	if ev := one[client.RejectedEvent](t, receive(t, a)); ev.Reason != client.RejectDowngrade {
		t.Fatalf("a downgrade after a reset: %v", ev.Reason)
	}
}

// TestGapsVisible: messages that did not arrive (yet) are counted, and the count goes down
// when they come late.
func TestGapsVisible(t *testing.T) {
	r, _, n, a, b := pairUp(t)
	n.setPolicy(holdAll)
	sendText(t, a, "bob", "one")
	sendText(t, a, "bob", "two")
	n.setPolicy(nil)
	held := n.takeHeld()
	sendText(t, a, "bob", "three")
	evs := wantText(t, b, "bob", "three")
	gap := lastGap(evs)
	if gap == nil || gap.From != "alice" || gap.Missing != 2 {
		t.Fatalf("gap: %#v", gap)
	}
	if s := gap.String(); !strings.Contains(s, "2 messages from alice did not arrive (yet)") {
		t.Fatalf("gap text: %s", s)
	}
	r.putRaw(t, held[1])
	r.putRaw(t, held[0])
	evs = receive(t, b)
	if got := texts(evs); len(got) != 2 {
		t.Fatalf("bob got %q late", got)
	}
	gap = lastGap(evs)
	if gap == nil || gap.Missing != 0 {
		t.Fatalf("gap after the late ones: %#v", gap)
	}
}

// lastGap is the last GapEvent of evs, nil when there is none.
func lastGap(evs []client.Event) *client.GapEvent {
	var gap *client.GapEvent
	for _, e := range evs {
		if g, ok := e.(client.GapEvent); ok {
			gap = &g
		}
	}
	return gap
}

// TestControlPayload: the pairwise session carries control payloads for other parts of the
// client; they are not kept in the history.
func TestControlPayload(t *testing.T) {
	_, _, _, a, b := pairUp(t)
	if _, err := a.SendControl(ctx(t), "bob", 0, nil); !errors.Is(err, client.ErrControlType) {
		t.Fatalf("control type 0: %v", err)
	}
	if _, err := a.SendControl(ctx(t), "bob", 7, []byte("group key")); err != nil {
		t.Fatal(err)
	}
	ev := one[client.ControlEvent](t, receive(t, b))
	if ev.From != "alice" || ev.Type != 7 || string(ev.Payload) != "group key" || !ev.Ratchet {
		t.Fatalf("control: %#v", ev)
	}
	h, err := b.History("alice", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h {
		if string(m.Body) == "group key" || string(m.Body) == "\x07group key" {
			t.Fatal("a control payload is in the history")
		}
	}
}

// TestThousandMessagesOverAChain is issue #21's "done when": alice reads at relay A, bob at
// relay C of a chain A - B - C; they exchange 1,000 messages while the network loses puts
// (the outbox retries them), holds envelopes up to a day (a slow path: reordering, and late
// messages across DH steps) and delivers some to both ends (duplicates), and readers reread
// from the start now and then; every message opens exactly once.
func TestThousandMessagesOverAChain(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 messages over three relays")
	}
	rA, rB, rC := startRelay(t), startRelay(t), startRelay(t)
	relaytest.Chain(t, peers.SchemeQUIC, rA.Relay, rB.Relay, rC.Relay)
	waitChain(t, rA, rC)
	clk, n := newClock(), &netSim{}
	a, b := newPeerDial(t, 0, clk, n.dial), newPeerDial(t, 1, clk, n.dial)
	inv, err := a.Invite(ctx(t), rA.addr(), "bob", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Accept(ctx(t), inv, client.AcceptOptions{Name: "alice", Relay: rC.addr(), Wait: testutil.Timeout(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "bob's answer floods to A", func() bool {
		return len(only[client.FriendAddedEvent](receive(t, a))) == 1
	})
	rng := rand.New(rand.NewPCG(21, 1000))
	type delayed struct {
		env []byte
		at  time.Time
	}
	var slow []delayed
	var lost, held, both int
	n.setPolicy(func(env []byte) (bool, error) {
		switch x := rng.IntN(20); {
		case x < 2:
			lost++
			return false, errors.New("simulated loss")
		case x < 4:
			held++
			slow = append(slow, delayed{env: env, at: clk.Now().Add(time.Duration(1+rng.IntN(24)) * time.Hour)})
			return true, nil
		}
		return false, nil
	})
	got := map[*peer]map[string]int{a: {}, b: {}}
	want := map[*peer][]string{}
	collect := func(p *peer) {
		res, err := p.Receive(ctx(t), client.ReceiveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Events {
			switch e := e.(type) {
			case client.MessageEvent:
				got[p][e.Text]++
			case client.RejectedEvent:
				t.Fatalf("rejected: %v %s", e.Reason, e.Detail)
			case client.SessionResetEvent:
				t.Fatalf("a session reset on a network that only delays: %v", e)
			}
		}
	}
	release := func(all bool) {
		n.mu.Lock()
		var due [][]byte
		kept := slow[:0]
		for _, d := range slow {
			if all || !d.at.After(clk.Now()) {
				due = append(due, d.env)
			} else {
				kept = append(kept, d)
			}
		}
		slow = kept
		n.mu.Unlock()
		rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, env := range due {
			// Delivered at either end of the chain, sometimes at both.
			switch rng.IntN(3) {
			case 0:
				rA.putRaw(t, env)
			case 1:
				rC.putRaw(t, env)
			default:
				both++
				rA.putRaw(t, env)
				rC.putRaw(t, env)
			}
		}
	}
	for i := range 1000 {
		clk.Add(time.Duration(rng.Int64N(int64(20 * time.Minute))))
		from, to, name := a, b, "bob"
		if rng.IntN(2) == 0 {
			from, to, name = b, a, "alice"
		}
		text := fmt.Sprint("message ", i)
		if _, err := from.SendText(ctx(t), name, text, client.SendOptions{}); err != nil {
			t.Fatal(err)
		}
		want[to] = append(want[to], text)
		if rng.IntN(4) == 0 {
			release(false)
			collect(to)
		}
		if i%250 == 249 {
			// Reread everything from the start: every blob comes again.
			for _, p := range []*peer{a, b} {
				fs, _ := p.Friends()
				for _, f := range fs {
					fp := f.Fingerprint()
					p.st.SetCursor(f.MyRelay, fmt.Sprintf("friend:%x", fp[:8]), 0)
				}
			}
		}
	}
	n.setPolicy(nil)
	release(true)
	complete := func() bool {
		for _, p := range []*peer{a, b} {
			collect(p)
			for _, w := range want[p] {
				if got[p][w] == 0 {
					return false
				}
			}
		}
		return true
	}
	if !testutil.Poll(60*time.Second, complete) {
		missing := 0
		for _, p := range []*peer{a, b} {
			for _, w := range want[p] {
				if got[p][w] == 0 {
					missing++
				}
			}
		}
		t.Fatalf("%d of 1000 messages never opened", missing)
	}
	total := 0
	for _, p := range []*peer{a, b} {
		for _, w := range want[p] {
			if got[p][w] != 1 {
				t.Fatalf("%q opened %d times", w, got[p][w])
			}
			total++
		}
		if len(got[p]) != len(want[p]) {
			t.Fatalf("%d texts opened, %d sent", len(got[p]), len(want[p]))
		}
	}
	if total != 1000 {
		t.Fatalf("%d messages", total)
	}
	if lost == 0 || held == 0 || both == 0 {
		t.Fatalf("the network did not misbehave: %d lost, %d held, %d at both ends", lost, held, both)
	}
	_, s := sessionOf(t, a, "bob")
	t.Logf("1000 messages: %d puts lost, %d held up to a day, %d delivered at both ends; KEM epoch %d", lost, held, both, s.KEMEpoch())
}

// waitChain waits until a blob put at from floods to to. Each try puts a new probe (a link
// that came up later does not carry the earlier ones) and looks for any of them.
func waitChain(t *testing.T, from, to *relay) {
	t.Helper()
	c, err := peers.DialClient(ctx(t), to.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var probes []echo.Tag
	testutil.Eventually(t, 30*time.Second, "the chain floods", func() bool {
		var tag [32]byte
		for i := range tag {
			tag[i] = byte(rand.IntN(256))
		}
		from.put(t, tag, []byte("probe"))
		if probes = append(probes, echo.Tag(tag)); len(probes) > echo.MaxTagsPerReq {
			probes = probes[1:]
		}
		items, _, _, err := c.Fetch(ctx(t), probes, 0, 0)
		return err == nil && len(items) > 0
	})
}

// only keeps the events of type E.
func only[E client.Event](evs []client.Event) []client.Event {
	var out []client.Event
	for _, e := range evs {
		if _, ok := e.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

// steal copies what p's store holds about its friends and sessions (everything but the seen
// set, which would only make the thief skip what it tries to open) into a new client with
// p's identity: the attacker of issue #21 item 6, holding the identity and the whole state.
func steal(t *testing.T, p *peer, clk *clock) *peer { return copyState(t, p, clk, true) }

// loseHistory is p an hour later, after losing its sessions and history but not its identity
// or its friends.
func loseHistory(t *testing.T, p *peer, clk *clock) *peer {
	t.Helper()
	p2 := copyState(t, p, clk, false)
	clk.Add(time.Hour)
	return p2
}

// copyState is p's identity with its friends and, when sessions is set, their sessions.
func copyState(t *testing.T, p *peer, clk *clock, sessions bool) *peer {
	t.Helper()
	thief := newPeerDial(t, 0, clk, dial)
	st := client.NewMemStore()
	fs, err := p.Friends()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if err := st.PutFriend(f); err != nil {
			t.Fatal(err)
		}
		if !sessions {
			continue
		}
		rec, err := p.st.Session(f.Fingerprint())
		if err != nil || rec == nil {
			t.Fatalf("no session to steal: %v", err)
		}
		if err := st.PutSession(rec); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(client.Options{Identity: p.id, Store: st, Dial: dial, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	thief.Client, thief.id, thief.st = c, p.id, st
	return thief
}

// replayAll puts envs at a fresh relay and lets p read everything there (untagged mode, so
// no tag is missed); it returns the texts that opened.
func replayAll(t *testing.T, p *peer, envs [][]byte) []string {
	t.Helper()
	r := startRelay(t)
	for _, env := range envs {
		r.putRaw(t, env)
	}
	res, err := p.Receive(ctx(t), client.ReceiveOptions{All: true, Relay: r.addr()})
	if err != nil {
		t.Fatal(err)
	}
	return texts(res.Events)
}

// TestStolenStateForwardSecrecy (item 6a, end to end): bob's identity and whole state are
// stolen at T; of everything recorded on the wire before T only the sealed session start
// opens (it is sealed to the long-term keys, PROTOCOL.md 7.7).
func TestStolenStateForwardSecrecy(t *testing.T) {
	_, clk, n, a, b := pairUp(t)
	exchange(t, clk, a, b, 6, "to bob ", "to alice ")
	recorded := n.since(0)
	thief := steal(t, b, clk)
	got := replayAll(t, thief, recorded)
	if len(got) != 1 || got[0] != "hello bob" {
		t.Fatalf("the stolen state opens %q of the messages sent before the theft", got)
	}
}

// TestStolenStateBreakInRecovery (item 6b, end to end): with bob's state stolen at T, the
// thief opens what alice sends on the chain it stole, but nothing once bob and alice have
// each sent and received once more.
func TestStolenStateBreakInRecovery(t *testing.T) {
	_, clk, n, a, b := pairUp(t)
	exchange(t, clk, a, b, 3, "to bob ", "to alice ")
	thief := steal(t, b, clk)
	m := n.mark()
	sendText(t, a, "bob", "on the stolen chain")
	receive(t, b)
	sendText(t, b, "alice", "bob heals")
	receive(t, a)
	sendText(t, a, "bob", "alice heals")
	receive(t, b)
	healed := n.mark()
	for i := range 3 {
		sendText(t, b, "alice", fmt.Sprint("after ", i))
		receive(t, a)
		sendText(t, a, "bob", fmt.Sprint("after ", i))
		receive(t, b)
	}
	envs := n.since(m)
	got := replayAll(t, thief, envs)
	if len(got) != 1 || got[0] != "on the stolen chain" {
		t.Fatalf("the thief opened %q", got)
	}
	if len(envs) != healed-m+6 {
		t.Fatalf("%d envelopes recorded", len(envs))
	}
}

// TestFriendLostState: bob loses his whole history but keeps his identity, and writes again:
// his new session start replaces the old session at alice's (she is told), and his messages
// still in flight on the old session open with the state alice keeps of it.
func TestFriendLostState(t *testing.T) {
	r, clk, n, a, b := pairUp(t)
	n.setPolicy(holdAll)
	sendText(t, b, "alice", "in flight on the old session")
	n.setPolicy(nil)
	late := n.takeHeld()
	if len(late) != 1 {
		t.Fatalf("%d held", len(late))
	}
	b2 := loseHistory(t, b, clk)
	sendText(t, b2, "alice", "I lost my history")
	evs := wantText(t, a, "alice", "I lost my history")
	if ev := one[client.SessionResetEvent](t, only[client.SessionResetEvent](evs)); ev.Reason != client.ResetByFriend {
		t.Fatalf("reset: %#v", ev)
	}
	r.putRaw(t, late[0])
	wantText(t, a, "alice (the late message of the old session)", "in flight on the old session")
	sendText(t, a, "bob", "welcome back")
	// Bob's empty history reads again what is still at the relay (the sealed start of the
	// old session among it, which is older than his new start and changes nothing), and
	// alice's notice that she had a session with him.
	evs = receive(t, b2)
	if got := texts(evs); len(got) == 0 || got[len(got)-1] != "welcome back" {
		t.Fatalf("bob got %q", got)
	}
	if ev := one[client.SessionResetEvent](t, only[client.SessionResetEvent](evs)); ev.Reason != client.ResetNoticed || ev.From != "alice" {
		t.Fatalf("bob is not told: %#v", ev)
	}
	sendText(t, b2, "alice", "thanks")
	wantText(t, a, "alice", "thanks")
}

// TestFriendLostStateReadsFirst: bob loses his history and reads before he writes: he takes
// up the old session's start from the relay, so his answer comes from a state alice has
// left; she detects it, both are told, and the new session carries on.
func TestFriendLostStateReadsFirst(t *testing.T) {
	_, clk, _, a, b := pairUp(t)
	exchange(t, clk, a, b, 2, "a", "b")
	b2 := loseHistory(t, b, clk)
	if got := texts(receive(t, b2)); len(got) == 0 || got[0] != "hello bob" {
		t.Fatalf("bob's empty history reads %q", got)
	}
	sendText(t, b2, "alice", "from the old start")
	ev := one[client.SessionResetEvent](t, only[client.SessionResetEvent](receive(t, a)))
	if ev.Reason != client.ResetFriendWentBack {
		t.Fatalf("alice: %#v", ev)
	}
	ev = one[client.SessionResetEvent](t, only[client.SessionResetEvent](receive(t, b2)))
	if ev.Reason != client.ResetByFriend {
		t.Fatalf("bob: %#v", ev)
	}
	sendText(t, b2, "alice", "on the new session")
	wantText(t, a, "alice", "on the new session")
}

// TestWatchFollowsTheRatchet: Watch subscribes again when a session's tags move on, so a
// message on the friend's next chain (a tag Watch did not ask for when it started) arrives.
func TestWatchFollowsTheRatchet(t *testing.T) {
	_, _, _, a, b := pairUp(t)
	wctx, cancel := context.WithCancel(context.Background())
	evs := make(chan client.Event, 64)
	done := make(chan error, 1)
	go func() { done <- b.Watch(wctx, "", func(e client.Event) { evs <- e }) }()
	defer func() {
		cancel()
		<-done
	}()
	wait := func(want string) {
		t.Helper()
		deadline := time.After(testutil.Timeout(20 * time.Second))
		for {
			select {
			case e := <-evs:
				if m, ok := e.(client.MessageEvent); ok && m.Text == want {
					return
				}
			case <-deadline:
				t.Fatalf("watch did not deliver %q", want)
			}
		}
	}
	sendText(t, a, "bob", "before the step")
	wait("before the step")
	sendText(t, b, "alice", "answer")
	wantText(t, a, "alice", "answer")
	sendText(t, a, "bob", "on the next chain")
	wait("on the next chain")
}
