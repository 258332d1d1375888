//go:build !js

package client_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/echorelay/echorelay/client"
)

// TestVia: a client with Options.Via (the web client, which reaches only the relay that served
// it) sends what is meant for a friend's other relay through Via, never dials that relay, and
// does not take Via's fingerprint for the other relay's: a backup of its history read by the
// CLI must not pin the friend's relay to the wrong key.
func TestVia(t *testing.T) {
	r := startRelay(t)
	clk := newClock()
	alice, sam := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, alice, "alice", sam, "sam", "")
	// sam's relay moved, as far as alice's record says, and its key is not known yet.
	fs, err := alice.st.Friends()
	if err != nil || len(fs) != 1 {
		t.Fatalf("alice's friends: %v %v", fs, err)
	}
	f := fs[0]
	const elsewhere = "127.0.0.1:1" // nothing listens there; it must not even be dialled
	f.TheirRelay, f.TheirRelayFP = elsewhere, ""
	if err := alice.st.PutFriend(f); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var dialled []string
	strict := func(ctx context.Context, addr, fp string) (client.Conn, error) {
		mu.Lock()
		dialled = append(dialled, addr)
		mu.Unlock()
		return dial(ctx, addr, fp)
	}
	web, err := client.New(client.Options{Identity: alice.id, Store: alice.st, Dial: strict, Now: clk.Now, Via: r.addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	if _, err := web.SendText(ctx(t), "sam", "through the serving relay", client.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := texts(receive(t, sam)); !slices.Equal(got, []string{"through the serving relay"}) {
		t.Fatalf("sam read %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(dialled, elsewhere) || len(dialled) == 0 {
		t.Fatalf("dialled %q; want only %s", dialled, r.addr())
	}
	fs, _ = alice.st.Friends()
	if fs[0].TheirRelayFP != "" {
		t.Fatalf("the friend's relay was pinned to %s, a key of a relay never talked to", fs[0].TheirRelayFP)
	}
}
