package group

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 9, 20, 0, 0, 0, time.UTC)

// TestReAdded: a removed member added again starts from a clean state: it reads what is sent
// after, not what was sent while it was out, and the others read it again.
func TestReAdded(t *testing.T) {
	t.Run("in order", func(t *testing.T) { testReAdded(t, 0, 1) })
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("reordered/seed=", seed), func(t *testing.T) { testReAdded(t, 3, seed) })
	}
}

func testReAdded(t *testing.T, delay int, seed uint64) {
	s := small(t, 3, PolicyAdmin)
	s.net.rng = rand.New(rand.NewPCG(seed, seed))
	if delay > 0 { // late, doubled and reordered from now on
		s.net.maxDelay, s.net.dupRate = delay, 0.3
	}
	ctx := context.Background()
	if err := s.group(0).Remove(ctx, s.trs[0], s.fps[2], s.now); err != nil {
		t.Fatal(err)
	}
	s.settle(all)
	s.send(1, "while you were out")
	s.settle(all)
	if err := s.group(0).Add(ctx, s.trs[0], Member{KeyHash: testKeyHash(s.fps[2]), FP: s.fps[2], Nick: "back"}, s.now); err != nil {
		t.Fatal(err)
	}
	s.settle(all)
	if s.group(2).Gone() {
		t.Fatal("the member added again is still out")
	}
	s.send(1, "welcome back")
	s.send(2, "thanks")
	s.settle(all)
	var got []string
	for _, m := range s.logs[2] {
		got = append(got, string(m.Content))
	}
	if len(got) != 1 || got[0] != "welcome back" {
		t.Fatalf("the member added again read %q", got)
	}
	if n := len(s.logs[1]); n == 0 || string(s.logs[1][n-1].Content) != "thanks" {
		t.Fatal("member 1 did not read the member added again")
	}
}

// TestSkippedKeysBounded: at most MaxSkipped skipped keys; the oldest go first, and a message
// whose key went is skipped, not refused.
func TestSkippedKeysBounded(t *testing.T) {
	s := small(t, 4, PolicyAdmin)
	ctx := context.Background()
	var firsts [][]byte
	for _, sender := range []int{1, 2, 3} {
		tr := &captureTransport{}
		for range MaxSkip + 1 {
			if _, err := s.group(sender).SendText(ctx, tr, "x", s.now); err != nil {
				t.Fatal(err)
			}
		}
		firsts = append(firsts, tr.blobs[0])
		u := s.group(0).Receive([][]byte{tr.blobs[MaxSkip]}) // skips MaxSkip keys
		if len(u.Messages) != 1 || len(u.Refused) != 0 {
			t.Fatalf("sender %d: %d opened, refused %v", sender, len(u.Messages), u.Refused)
		}
	}
	g := s.group(0)
	if n := len(g.skipped); n != MaxSkipped {
		t.Fatalf("%d skipped keys kept, want the bound %d", n, MaxSkipped)
	}
	u := g.Receive(firsts)
	if len(u.Messages) != 2 || u.Skipped != 1 || len(u.Refused) != 0 {
		t.Fatalf("the first messages: %d opened, %d skipped, refused %v; want 2, 1 (evicted), none", len(u.Messages), u.Skipped, u.Refused)
	}
}

// TestPendingBounded: messages whose sender's key has not come wait, at most
// MaxPendingBlobs; the oldest is refused with ErrNoKey, and the rest open when the key comes.
func TestPendingBounded(t *testing.T) {
	ctx := context.Background()
	admin, member := testFP(0), testFP(1)
	atr := &captureTransport{}
	g0, err := Create(ctx, atr, testCfg(admin), "p", PolicyAdmin, []Member{{KeyHash: testKeyHash(member), FP: member}}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	mtr := &captureTransport{}
	g1, _, err := Join(ctx, mtr, testCfg(member), admin, atr.pairwise[0].payload, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for range MaxPendingBlobs + 1 {
		if _, err := g1.SendText(ctx, mtr, "early", testNow); err != nil {
			t.Fatal(err)
		}
	}
	// mtr.blobs[0] is the member's chain announcement (from Join), the rest its messages.
	u := g0.Receive(mtr.blobs[1:])
	if len(u.Messages) != 0 || len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrNoKey) {
		t.Fatalf("before the key: %d opened, refused %v", len(u.Messages), u.Refused)
	}
	u = g0.Receive(mtr.blobs[:1])
	if len(u.Messages) != MaxPendingBlobs {
		t.Fatalf("with the key: %d opened, refused %v", len(u.Messages), u.Refused)
	}
	if u.Messages[0].Index != 1 {
		t.Fatalf("the first message out is index %d, want 1 (0 was evicted)", u.Messages[0].Index)
	}
}

// TestFormerPruned: a removed member is forgotten once no kept epoch names it.
func TestFormerPruned(t *testing.T) {
	s := small(t, 3, PolicyAdmin)
	ctx := context.Background()
	if err := s.group(0).Remove(ctx, s.trs[0], s.fps[2], s.now); err != nil {
		t.Fatal(err)
	}
	s.settle(all)
	g := s.group(1)
	if g.formers[s.fps[2]] == nil || len(g.chains[s.fps[2]]) == 0 {
		t.Fatal("the removed member is not kept as a former member right after its removal")
	}
	for i := range MaxEpochs {
		fp := testFP(100 + i)
		if err := s.group(0).Add(ctx, s.trs[0], Member{KeyHash: testKeyHash(fp), FP: fp}, s.now); err != nil {
			t.Fatal(err)
		}
		s.settle(all)
	}
	if g.formers[s.fps[2]] != nil || len(g.chains[s.fps[2]]) != 0 || len(g.epochs) != MaxEpochs {
		t.Fatalf("after %d more epochs: former kept %v, %d chains, %d epochs", MaxEpochs, g.formers[s.fps[2]] != nil, len(g.chains[s.fps[2]]), len(g.epochs))
	}
}

// TestRemovedBeforeJoining: a member added and removed before its welcome came does not join
// when the welcome comes after the removal.
func TestRemovedBeforeJoining(t *testing.T) {
	ctx := context.Background()
	admin, late := testFP(0), testFP(1)
	atr := &captureTransport{}
	g, err := Create(ctx, atr, testCfg(admin), "t", PolicyAdmin, []Member{{KeyHash: testKeyHash(testFP(2)), FP: testFP(2)}}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	atr.pairwise = nil
	if err := g.Add(ctx, atr, Member{KeyHash: testKeyHash(late), FP: late}, testNow); err != nil {
		t.Fatal(err)
	}
	if err := g.Remove(ctx, atr, late, testNow); err != nil {
		t.Fatal(err)
	}
	var welcome, removal []byte
	for _, o := range atr.pairwise {
		if c, err := ParseCommit(o.payload); err == nil && o.to == late {
			if c.member(late) >= 0 {
				welcome = o.payload
			} else {
				removal = o.payload
			}
		}
	}
	if welcome == nil || removal == nil {
		t.Fatal("no welcome and removal for the late member")
	}
	set := NewSet(testCfg(late))
	for _, p := range [][]byte{removal, welcome} {
		u, err := set.HandleControl(ctx, &captureTransport{}, admin, p, testNow)
		if err != nil || len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrNotMember) {
			t.Fatalf("refused %v, %v", u.Refused, err)
		}
	}
	if len(set.Groups()) != 0 {
		t.Fatal("joined a group it was removed from")
	}
}

// TestSetOrphansAndAccept: a welcome joins, the admin's announcement then opens its messages;
// a sender key sent pairwise (chains travel as announcements) that came before the welcome is
// kept for the group and refused once it joined; a declined welcome joins nothing.
func TestSetOrphansAndAccept(t *testing.T) {
	ctx := context.Background()
	admin, m1, m2 := testFP(0), testFP(1), testFP(2)
	atr := &captureTransport{}
	g, err := Create(ctx, atr, testCfg(admin), "o", PolicyAdmin, []Member{{KeyHash: testKeyHash(m1), FP: m1}, {KeyHash: testKeyHash(m2), FP: m2}}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var welcome []byte
	for _, o := range atr.pairwise {
		if k, _, _ := PeekControl(o.payload); o.to == m1 && k == KindCommit {
			welcome = o.payload
		}
	}
	if welcome == nil || len(atr.pairwise) != 2 || len(atr.blobs) != 1 {
		t.Fatalf("creation: %d pairwise payloads, %d blobs; want a welcome each and one announcement", len(atr.pairwise), len(atr.blobs))
	}
	key := (&SenderKey{Group: g.ID(), Epoch: 1}).Marshal()
	set := NewSet(testCfg(m1))
	if u, err := set.HandleControl(ctx, &captureTransport{}, admin, key, testNow); err != nil || len(u.Refused) != 0 {
		t.Fatalf("the key before the welcome: %v %v", u.Refused, err)
	}
	u, err := set.HandleControl(ctx, &captureTransport{}, admin, welcome, testNow)
	if err != nil || len(u.Refused) != 1 || !errors.Is(u.Refused[0], ErrMalformed) {
		t.Fatalf("the welcome after a pairwise sender key: refused %v, %v; want the key refused", u.Refused, err)
	}
	tr := &captureTransport{}
	if _, err := g.SendText(ctx, tr, "first", testNow); err != nil {
		t.Fatal(err)
	}
	if u := set.Group(g.ID()).Receive(append(tr.blobs, atr.blobs...)); len(u.Messages) != 1 {
		t.Fatalf("the admin's first message: %d opened, refused %v", len(u.Messages), u.Refused)
	}

	other := NewSet(testCfg(m1))
	other.Accept = func(a Fingerprint, c *Commit) bool { return a != admin || c.Name != "o" }
	if _, err := other.HandleControl(ctx, &captureTransport{}, admin, welcome, testNow); !errors.Is(err, ErrDeclined) {
		t.Fatalf("a declined welcome: %v", err)
	}
	if len(other.Groups()) != 0 {
		t.Fatal("joined a declined group")
	}
}
