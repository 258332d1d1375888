package group

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

// small is a group of n members over a network that delivers at once, in order, once.
func small(t *testing.T, n int, policy Policy) *sim {
	t.Helper()
	return smallOf(t, n, n, policy)
}

// smallOf is small with total identities, the first n of them in the group.
func smallOf(t *testing.T, total, n int, policy Policy) *sim {
	t.Helper()
	s := newSim(t, total, 1)
	s.net.maxDelay, s.net.dupRate = 0, 0
	var others []Member
	for i := 1; i < n; i++ {
		others = append(others, Member{KeyHash: testKeyHash(s.fps[i]), FP: s.fps[i], Nick: fmt.Sprint("m", i)})
	}
	g, err := s.sets[0].Create(context.Background(), s.trs[0], "g", policy, others, s.now)
	if err != nil {
		t.Fatal(err)
	}
	s.gid = g.ID()
	s.settle(func(int) bool { return true })
	return s
}

// settle runs rounds until nothing is in flight (bounded).
func (s *sim) settle(online func(int) bool) {
	s.t.Helper()
	for r := 0; r < 20; r++ {
		s.step(online)
		if s.net.quietFor(s.fps, online) {
			s.step(online)
			return
		}
	}
	s.t.Fatal("the network did not settle in 20 rounds")
}

func all(int) bool { return true }

func TestSendReceive(t *testing.T) {
	s := small(t, 3, PolicyAdmin)
	s.send(1, "hello")
	s.settle(all)
	for _, i := range []int{0, 2} {
		if len(s.logs[i]) != 1 || string(s.logs[i][0].Content) != "hello" || s.logs[i][0].Sender != s.fps[1] ||
			s.logs[i][0].SenderNick != "m1" || s.logs[i][0].Type != seal.TypeText {
			t.Fatalf("member %d read %+v", i, s.logs[i])
		}
	}
	if len(s.logs[1]) != 0 {
		t.Fatal("the sender read its own message")
	}
}

// A member knows every other member's chain key, so it could encrypt in their name; the
// per-chain signature is what stops it.
func TestForgedByMemberRefused(t *testing.T) {
	s := small(t, 3, PolicyAdmin)
	g2 := s.group(2)
	// Member 2 builds a blob as member 1, with member 1's chain as it knows it.
	g2.mu.Lock()
	ch := g2.chain(s.fps[1], 0)
	es := g2.epochs[len(g2.epochs)-1]
	mk, _ := chainStep(ch.ck, g2.id, s.fps[1], 0, ch.index)
	forged := sealBlob(g2.id, es.hk, mk, g2.own.sig, header{sender: s.fps[1], gen: 0, index: ch.index},
		inner{time: s.now, typ: seal.TypeText, content: []byte("I owe you 100")}, [24]byte{1})
	g2.mu.Unlock()
	u := s.group(0).Receive([][]byte{forged})
	if len(u.Messages) != 0 || len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrTampered) {
		t.Fatalf("forged message: %d opened, refused %v", len(u.Messages), u.Refused)
	}
	// The forgery burnt no key: member 1's real message of that index still opens.
	s.send(1, "real")
	s.settle(all)
	if len(s.logs[0]) != 1 || string(s.logs[0][0].Content) != "real" {
		t.Fatalf("after the forgery, member 0 read %d messages", len(s.logs[0]))
	}
}

func TestDuplicatesAndOutOfOrder(t *testing.T) {
	s := small(t, 2, PolicyAdmin)
	tr := &captureTransport{}
	g := s.group(1)
	for i := range 5 {
		if _, err := g.SendText(context.Background(), tr, fmt.Sprint(i), s.now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	b := tr.blobs
	u := s.group(0).Receive([][]byte{b[3], b[1], b[3], b[4], b[0], b[1], b[2], b[4]})
	if len(u.Refused) != 0 || u.Skipped != 3 || len(u.Messages) != 5 {
		t.Fatalf("opened %d, skipped %d, refused %v; want 5, 3, none", len(u.Messages), u.Skipped, u.Refused)
	}
	for i, m := range u.Messages {
		if string(m.Content) != fmt.Sprint(i) || m.Index != uint32(i) {
			t.Fatalf("message %d is %q (index %d): not in order", i, m.Content, m.Index)
		}
	}
	if u := s.group(0).Receive(b); len(u.Messages) != 0 || u.Skipped != 5 {
		t.Fatalf("read again: %d opened, %d skipped", len(u.Messages), u.Skipped)
	}
	g0 := s.group(0)
	if n := len(g0.skipped); n != 0 {
		t.Fatalf("%d skipped keys kept after every message opened", n)
	}
}

func TestTooFarAhead(t *testing.T) {
	s := small(t, 2, PolicyAdmin)
	g := s.group(1)
	g.mu.Lock()
	g.own.index = MaxSkip + 1 // the next message claims to be MaxSkip+1 ahead
	g.mu.Unlock()
	tr := &captureTransport{}
	if _, err := g.SendText(context.Background(), tr, "far", s.now); err != nil {
		t.Fatal(err)
	}
	u := s.group(0).Receive(tr.blobs)
	if len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrTooFarAhead) {
		t.Fatalf("refused %v, want ErrTooFarAhead", u.Refused)
	}
}

func TestForkAndForeignCommitRefused(t *testing.T) {
	s := small(t, 3, PolicyAdmin)
	g1 := s.group(1)
	g1.mu.Lock()
	c := *g1.cur
	g1.mu.Unlock()
	c.Name = "renamed behind your back"
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	u, err := g1.HandleControl(context.Background(), s.trs[1], s.fps[0], b, s.now)
	if err != nil || len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrFork) {
		t.Fatalf("a second commit of the same epoch: %v, %v", u.Refused, err)
	}
	c.Epoch++
	b, _ = c.Marshal()
	u, err = g1.HandleControl(context.Background(), s.trs[1], s.fps[2], b, s.now)
	if err != nil || len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrNotAdmin) {
		t.Fatalf("a commit from a member: %v, %v", u.Refused, err)
	}
	if g1.Name() != "g" {
		t.Fatalf("the group is now called %q", g1.Name())
	}
}

func TestPolicy(t *testing.T) {
	ctx := context.Background()
	t.Run("admin", func(t *testing.T) {
		s := small(t, 3, PolicyAdmin)
		if err := s.group(1).Add(ctx, s.trs[1], Member{KeyHash: testKeyHash(testFP(99)), FP: testFP(99)}, s.now); !errors.Is(err, ErrNotAdmin) {
			t.Fatalf("a member adds in an admin-only group: %v", err)
		}
		if err := s.group(1).Remove(ctx, s.trs[1], s.fps[2], s.now); !errors.Is(err, ErrNotAdmin) {
			t.Fatalf("a member removes in an admin-only group: %v", err)
		}
		// A proposal sent anyway is refused by the admin.
		p := Proposal{Group: s.gid, Op: OpRemove, FP: s.fps[2]}
		b, _ := p.Marshal()
		u, err := s.group(0).HandleControl(ctx, s.trs[0], s.fps[1], b, s.now)
		if err != nil || len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrNotAdmin) || len(s.group(0).Members()) != 3 {
			t.Fatalf("the admin took a member's proposal: %v %v", u.Refused, err)
		}
		if err := s.group(0).Leave(ctx, s.trs[0]); !errors.Is(err, ErrAdminLeave) {
			t.Fatalf("the admin leaves: %v", err)
		}
	})
	t.Run("open", func(t *testing.T) {
		s := small(t, 4, PolicyOpen)
		if err := s.group(1).Remove(ctx, s.trs[1], s.fps[2], s.now); err != nil {
			t.Fatal(err)
		}
		s.settle(all)
		if len(s.group(0).Members()) != 3 || !s.group(2).Gone() || len(s.group(3).Members()) != 3 {
			t.Fatalf("a member's removal in an open group: admin sees %d members", len(s.group(0).Members()))
		}
	})
}

func TestLeave(t *testing.T) {
	s := small(t, 3, PolicyAdmin)
	ctx := context.Background()
	if err := s.group(2).Leave(ctx, s.trs[2]); err != nil {
		t.Fatal(err)
	}
	if !s.group(2).Gone() {
		t.Fatal("left, but not gone")
	}
	s.settle(all)
	if len(s.group(0).Members()) != 2 || len(s.group(1).Members()) != 2 {
		t.Fatal("the others still count the member who left")
	}
	if _, err := s.group(2).SendText(ctx, s.trs[2], "still here?", s.now); !errors.Is(err, ErrRemoved) {
		t.Fatalf("sending after leaving: %v", err)
	}
	if s.group(1).Generation() != 1 {
		t.Fatalf("member 1 did not rotate after the leave: generation %d", s.group(1).Generation())
	}
}

// TestAddedReadsFromThenOn: a new member gets each chain where it stands, so it opens what
// is sent after, and none of what was sent before even when given every blob.
func TestAddedReadsFromThenOn(t *testing.T) {
	s := smallOf(t, 4, 3, PolicyAdmin)
	ctx := context.Background()
	s.send(1, "before")
	s.settle(func(i int) bool { return i < 3 })
	if err := s.group(0).Add(ctx, s.trs[0], Member{KeyHash: testKeyHash(s.fps[3]), FP: s.fps[3], Nick: "late"}, s.now); err != nil {
		t.Fatal(err)
	}
	s.settle(all)
	s.send(1, "after")
	s.settle(all)
	if len(s.logs[3]) != 1 || string(s.logs[3][0].Content) != "after" {
		t.Fatalf("the new member read %d messages", len(s.logs[3]))
	}
	if u := s.group(3).Receive(s.net.allBlobs()); len(u.Messages) != 0 {
		t.Fatal("the new member opened an earlier message")
	}
}

// TestWireSizeIndependentOfMembers: one blob per message, the same size for 2, 30 and 100
// members.
func TestWireSizeIndependentOfMembers(t *testing.T) {
	var sizes []int
	for _, n := range []int{2, 30, 100} {
		tr := &captureTransport{}
		g := benchGroup(t, n)
		if _, err := g.SendText(context.Background(), tr, "see you at nine in room 4", time.Now()); err != nil {
			t.Fatal(err)
		}
		if len(tr.blobs) != 1 || len(tr.pairwise) != 0 {
			t.Fatalf("%d members: %d blobs and %d pairwise payloads for one message", n, len(tr.blobs), len(tr.pairwise))
		}
		sizes = append(sizes, len(tr.blobs[0]))
	}
	if sizes[0] != sizes[1] || sizes[1] != sizes[2] || sizes[0] != BlobSize(len("see you at nine in room 4")) {
		t.Fatalf("blob sizes for 2, 30, 100 members: %v", sizes)
	}
	if sizes[0] > 1024 {
		t.Fatalf("a short text is %d bytes", sizes[0])
	}
}

func TestFull(t *testing.T) {
	var others []Member
	for i := 1; i <= MaxMembers; i++ {
		others = append(others, Member{KeyHash: testKeyHash(testFP(i)), FP: testFP(i)})
	}
	tr := &captureTransport{}
	if _, err := Create(context.Background(), tr, testCfg(testFP(0)), "big", PolicyAdmin, others, time.Now()); !errors.Is(err, ErrFull) {
		t.Fatalf("a group of %d: %v", len(others)+1, err)
	}
	g, err := Create(context.Background(), tr, testCfg(testFP(0)), "big", PolicyAdmin, others[:MaxMembers-1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Add(context.Background(), tr, Member{KeyHash: testKeyHash(testFP(500)), FP: testFP(500)}, time.Now()); !errors.Is(err, ErrFull) {
		t.Fatalf("adding a 101st member: %v", err)
	}
}

func TestPadded(t *testing.T) {
	for n := 0; n < 3<<20; n += 1 + n/7 {
		p := Padded(n)
		if p < n || p < 256 || Padded(p) != p || n > 64<<10 && float64(p) > 1.125*float64(n) {
			t.Fatalf("Padded(%d) = %d", n, p)
		}
	}
	if m := MaxContent(2 << 20); BlobSize(m) > 2<<20-envelopeReserve || BlobSize(m+1) <= 2<<20-envelopeReserve {
		t.Fatalf("MaxContent(2 MiB) = %d", m)
	}
}

// captureTransport keeps what a member sends.
type captureTransport struct {
	blobs    [][]byte
	pairwise []outgoing
}

func (c *captureTransport) SendPairwise(_ context.Context, to Fingerprint, p []byte) error {
	c.pairwise = append(c.pairwise, outgoing{to: to, payload: bytes.Clone(p)})
	return nil
}
func (c *captureTransport) Put(_ context.Context, _ [32]byte, b []byte) error {
	c.blobs = append(c.blobs, bytes.Clone(b))
	return nil
}
func (c *captureTransport) Fetch(context.Context, [][32]byte) ([][]byte, error) { return nil, nil }

// benchGroup is an admin's group of n members (the others only as fingerprints).
func benchGroup(tb testing.TB, n int) *Group {
	var others []Member
	for i := 1; i < n; i++ {
		others = append(others, Member{KeyHash: testKeyHash(testFP(i)), FP: testFP(i), Nick: fmt.Sprint("m", i)})
	}
	g, err := Create(context.Background(), &captureTransport{}, testCfg(testFP(0)), "bench", PolicyAdmin, others, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// TestLateAndGap: a message after missing ones says how many are missing; those that come
// later say they are late.
func TestLateAndGap(t *testing.T) {
	s := small(t, 2, PolicyAdmin)
	tr := &captureTransport{}
	for i := range 3 {
		if _, err := s.group(1).SendText(context.Background(), tr, fmt.Sprint(i), s.now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	g := s.group(0)
	u := g.Receive(tr.blobs[2:])
	if len(u.Messages) != 1 || u.Messages[0].Gap != 2 || u.Messages[0].Late {
		t.Fatalf("the third message alone: %+v", u.Messages)
	}
	u = g.Receive([][]byte{tr.blobs[1], tr.blobs[0]})
	if len(u.Messages) != 2 || !u.Messages[0].Late || !u.Messages[1].Late || u.Messages[0].Index != 0 || u.Messages[0].Gap != 0 {
		t.Fatalf("the first two after it: %+v", u.Messages)
	}
}
