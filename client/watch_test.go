//go:build !js

package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/internal/testutil"
)

// Watch delivers a message as it arrives, returns nil when its context is cancelled, and a
// later Receive does not show the message again.
func TestWatch(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	clk := newClock()
	alice, bob := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, alice, "alice", bob, "bob", "")
	wctx, cancel := context.WithCancel(context.Background())
	evs := make(chan client.Event, 16)
	done := make(chan error, 1)
	go func() { done <- bob.Watch(wctx, "", func(e client.Event) { evs <- e }) }()
	defer func() {
		cancel()
		<-done
	}()
	// Sent until the subscription is up: Watch does not say when it is.
	deadline := time.After(testutil.Timeout(20 * time.Second))
	var got client.MessageEvent
	for sent := 0; got.Text == ""; {
		if _, err := alice.SendText(ctx(t), "bob", "live", client.SendOptions{}); err != nil {
			t.Fatal(err)
		}
		sent++
		select {
		case e := <-evs:
			got = e.(client.MessageEvent)
		case <-time.After(testutil.Timeout(500 * time.Millisecond)):
		case <-deadline:
			t.Fatalf("watch delivered nothing of %d messages", sent)
		}
	}
	if got.From != "alice" {
		t.Fatalf("watch: %#v", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch ended with %v", err)
		}
	case <-time.After(testutil.Timeout(10 * time.Second)):
		t.Fatal("watch did not end when cancelled")
	}
	done <- nil // for the deferred wait
	// Receive shows only what watch had not delivered (messages sent before it subscribed).
	for _, e := range receive(t, bob) {
		if m, ok := e.(client.MessageEvent); !ok || m.ID == got.ID {
			t.Fatalf("receive after watch shows %#v", e)
		}
	}
}
