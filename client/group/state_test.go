package group

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestStateRoundTrip: a member restored from its state in the middle of the scenario goes on
// as if it had not stopped: same state bytes, and it reads what comes next.
func TestStateRoundTrip(t *testing.T) {
	s := smallOf(t, 5, 4, PolicyAdmin)
	ctx := context.Background()
	s.send(1, "one")
	s.send(2, "two")
	s.settle(func(i int) bool { return i != 3 })
	if err := s.group(0).Remove(ctx, s.trs[0], s.fps[2], s.now); err != nil {
		t.Fatal(err)
	}
	if err := s.group(0).Add(ctx, s.trs[0], Member{KeyHash: testKeyHash(s.fps[4]), FP: s.fps[4], Nick: "new"}, s.now); err != nil {
		t.Fatal(err)
	}
	s.settle(func(i int) bool { return i != 3 })
	s.send(1, "three")
	tr := &captureTransport{}
	if _, err := s.group(1).SendText(ctx, tr, "held back", s.now); err != nil {
		t.Fatal(err)
	}
	s.settle(func(i int) bool { return i != 3 })
	// Member 3 was offline: its state has pending keys and blobs once it takes some in.
	for _, p := range s.net.takePairwise(s.fps[3]) {
		if _, err := s.group(3).HandleControl(ctx, s.trs[3], p.from, p.payload, s.now); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 1, 2, 3, 4} {
		g := s.group(i)
		st := g.MarshalState()
		r, err := RestoreGroup(testCfg(s.fps[i]), st)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		if !bytes.Equal(r.MarshalState(), st) {
			t.Fatalf("member %d: restore then marshal differs", i)
		}
		if _, err := RestoreGroup(testCfg(s.fps[(i+1)%5]), st); !errors.Is(err, ErrMalformed) {
			t.Fatalf("member %d's state restored for another member: %v", i, err)
		}
		for _, cut := range []int{1, len(st) / 2, len(st) - 1} {
			if _, err := RestoreGroup(testCfg(s.fps[i]), st[:cut]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("member %d's state cut at %d restored: %v", i, cut, err)
			}
		}
		set := NewSet(testCfg(s.fps[i]))
		if r, err = set.Restore(st); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.MarshalState(), st) {
			t.Fatalf("member %d: the set's restore then marshal differs", i)
		}
		if _, err := set.Restore(st); !errors.Is(err, ErrMalformed) {
			t.Fatalf("restored twice: %v", err)
		}
		s.sets[i] = set
	}
	// The restored members go on: member 0 reads the held-back message, the removed member 2
	// stays out.
	u := s.group(0).Receive(tr.blobs)
	if len(u.Messages) != 1 || string(u.Messages[0].Content) != "held back" {
		t.Fatalf("restored admin read %d messages (%v)", len(u.Messages), u.Refused)
	}
	if !s.group(2).Gone() {
		t.Fatal("the removed member is back after a restore")
	}
	s.send(4, "from the newcomer")
	s.settle(all)
	for _, i := range []int{0, 1, 3} {
		if n := len(s.logs[i]); n == 0 || string(s.logs[i][n-1].Content) != "from the newcomer" {
			t.Fatalf("restored member %d did not read the newcomer's message last", i)
		}
	}
}
