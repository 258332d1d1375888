//go:build !js

package client_test

import (
	"testing"

	"github.com/echorelay/echorelay/client"
)

// Issue #16 item 10: a send to a relay that is down is kept, listed, sent by the next
// Receive once the relay is back, and received exactly once.
func TestOutbox(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	clk := newClock()
	alice, bob := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, alice, "alice", bob, "bob", "")
	r.down()
	res, err := alice.SendText(ctx(t), "bob", "while you were out", client.SendOptions{})
	if err != nil || !res.Queued || res.Err == nil {
		t.Fatalf("send to a relay that is down: %+v %v", res, err)
	}
	items, err := alice.Outbox()
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox: %+v %v", items, err)
	}
	if it := items[0]; it.To != "bob" || it.What != "text" || it.Envelope != 1 || it.Bytes < 4096 || it.Tries != 1 || it.LastErr == "" || it.Relay != r.addr() {
		t.Fatalf("outbox item: %+v", it)
	}
	// A Receive while the relay is still down keeps it.
	if res, err := alice.Receive(ctx(t), client.ReceiveOptions{}); err != nil || len(res.Failed) != 1 {
		t.Fatalf("receive with the relay down: %+v %v", res, err)
	}
	if items, _ := alice.Outbox(); len(items) != 1 || items[0].Tries != 2 {
		t.Fatalf("outbox after a failed retry: %+v", items)
	}
	r.start()
	if e := one[client.OutboxSentEvent](t, receive(t, alice)); e.To != "bob" || e.Count != 1 {
		t.Fatalf("outbox event: %#v", e)
	}
	if items, _ := alice.Outbox(); len(items) != 0 {
		t.Fatalf("outbox after the retry: %+v", items)
	}
	if e := one[client.MessageEvent](t, receive(t, bob)); e.Text != "while you were out" {
		t.Fatalf("bob got %#v", e)
	}
	if evs := receive(t, bob); len(evs) != 0 {
		t.Fatalf("bob's second receive: %#v", evs)
	}
	if evs := receive(t, alice); len(evs) != 0 {
		t.Fatalf("alice's outbox sent twice: %#v", evs)
	}
}
