//go:build !js

package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/testutil"
)

// Invites are single-use (issue #16 item 6), with three identities: sam invites, bob accepts,
// carol's accept of the same code is refused; an answer carol makes herself later is not
// taken, and sam hears of it.
func TestInviteSingleUse(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	clk := newClock()
	sam, bob, carol := newPeer(t, 0, clk), newPeer(t, 1, clk), newPeer(t, 2, clk)
	inv, err := sam.Invite(ctx(t), r.addr(), "", "sam")
	if err != nil {
		t.Fatal(err)
	}
	if inv.RelayFP == ([32]byte{}) || !inv.Bound() {
		t.Fatalf("the invite carries no relay fingerprint or inviter binding: %+v", inv)
	}
	wait := testutil.Timeout(10 * time.Second)
	if _, err := bob.Accept(ctx(t), inv, client.AcceptOptions{Name: "sam", As: "bob", Wait: wait}); err != nil {
		t.Fatal(err)
	}
	_, err = carol.Accept(ctx(t), inv, client.AcceptOptions{Name: "sam", Wait: wait})
	if !errors.Is(err, client.ErrAlreadyAnswered) || !strings.Contains(err.Error(), "ask sam for a new one") {
		t.Fatalf("carol's accept of an answered code: %v", err)
	}
	if fs, _ := carol.Friends(); len(fs) != 0 {
		t.Fatalf("the refused accept stored a friend: %v", fs)
	}
	// Carol answers with her own client.
	blob, _, err := inv.SealAnswer(carol.id, sam.id.Bundle(), seal.AnswerInfo{Nick: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	r.put(t, inv.AcceptorTag(), blob)
	evs := receive(t, sam)
	if len(evs) != 2 {
		t.Fatalf("sam's receive: %#v", evs)
	}
	if e, ok := evs[0].(client.FriendAddedEvent); !ok || e.Name != "bob" {
		t.Fatalf("first event %#v, want bob added (the first answer)", evs[0])
	}
	if e, ok := evs[1].(client.InviteAnsweredTwiceEvent); !ok || e.Name != "bob" {
		t.Fatalf("second event %#v, want the second answer reported", evs[1])
	}
	fs, _ := sam.Friends()
	if len(fs) != 1 || fs[0].Fingerprint() != bob.id.Fingerprint() {
		t.Fatalf("sam's friends: %v", fs)
	}
	if pend, _ := sam.PendingInvites(); len(pend) != 0 {
		t.Fatalf("a used invite is still pending: %v", pend)
	}
	// Reported once, not at every receive.
	if evs := receive(t, sam); len(evs) != 0 {
		t.Fatalf("the second answer again: %#v", evs)
	}
	// After its 7 days the used invite is forgotten quietly; a pending one is reported.
	if _, err := sam.Invite(ctx(t), r.addr(), "zoe", ""); err != nil {
		t.Fatal(err)
	}
	clk.Add(client.InviteTTL + time.Minute)
	if e := one[client.InviteExpiredEvent](t, receive(t, sam)); e.Name != "zoe" {
		t.Fatalf("expired: %#v", e)
	}
	if evs := receive(t, sam); len(evs) != 0 {
		t.Fatalf("after expiry: %#v", evs)
	}
}

// Each side sends to the other's relay and reads at its own (issue #16 item 11). The acceptor
// answers through another address of the same relay, so the four addresses can be told apart;
// the relays' fingerprints are recorded.
func TestFriendRelays(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	clk := newClock()
	alice, bob := newPeer(t, 0, clk), newPeer(t, 1, clk)
	tlsAddr := "tls://" + r.addr()
	befriend(t, r, alice, "alice", bob, "bob", tlsAddr)
	fa, _ := alice.Friend("bob")
	fb, _ := bob.Friend("alice")
	fp := r.id.Fingerprint
	if fa.TheirRelay != tlsAddr || fa.MyRelay != r.addr() || fa.TheirRelayFP != fp || fa.MyRelayFP != fp {
		t.Fatalf("alice's record of bob: their %s (%s) mine %s (%s)", fa.TheirRelay, fa.TheirRelayFP, fa.MyRelay, fa.MyRelayFP)
	}
	if fb.TheirRelay != r.addr() || fb.MyRelay != tlsAddr || fb.TheirRelayFP != fp || fb.MyRelayFP != fp {
		t.Fatalf("bob's record of alice: their %s (%s) mine %s (%s)", fb.TheirRelay, fb.TheirRelayFP, fb.MyRelay, fb.MyRelayFP)
	}
	for _, m := range []struct {
		from, to *peer
		name     string
	}{{alice, bob, "bob"}, {bob, alice, "alice"}} {
		if res, err := m.from.SendText(ctx(t), m.name, "hi "+m.name, client.SendOptions{}); err != nil || res.Queued {
			t.Fatalf("send to %s: %+v %v", m.name, res, err)
		}
		if e := one[client.MessageEvent](t, receive(t, m.to)); e.Text != "hi "+m.name {
			t.Fatalf("%s got %#v", m.name, e)
		}
	}

	// A relay at the recorded address with another key is refused: the message waits.
	other := startRelay(t)
	bob.st.PutFriend(&client.Friend{Name: fb.Name, Bundle: fb.Bundle, Pair: fb.Pair, TheirRelay: other.addr(), TheirRelayFP: fp,
		MyRelay: fb.MyRelay, MyRelayFP: fb.MyRelayFP})
	res, err := bob.SendText(ctx(t), "alice", "to an impostor?", client.SendOptions{})
	if err != nil || !res.Queued || !errors.Is(res.Err, client.ErrWrongRelay) {
		t.Fatalf("send to a relay with another key: %+v %v", res, err)
	}
}

// Friends can be renamed, removed and blocked; names are checked.
func TestFriendManagement(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	clk := newClock()
	alice, bob := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, alice, "alice", bob, "bob", "")
	if _, err := alice.SendText(ctx(t), "bob", "before", client.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := alice.RenameFriend("bob", "ro bert"); !errors.Is(err, client.ErrBadName) {
		t.Fatalf("rename to a bad name: %v", err)
	}
	if err := alice.RenameFriend("carl", "x"); !errors.Is(err, client.ErrNoFriend) {
		t.Fatalf("rename of nobody: %v", err)
	}
	if err := alice.RenameFriend("bob", "robert"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendText(ctx(t), "bob", "x", client.SendOptions{}); !errors.Is(err, client.ErrNoFriend) {
		t.Fatalf("send to the old name: %v", err)
	}
	if _, err := alice.SendText(ctx(t), "robert", "after", client.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := alice.History("robert", 10)
	if err != nil || len(h) != 2 || h[0].Name != "robert" || string(h[1].Body) != "after" || !h[1].Out {
		t.Fatalf("history after the rename: %+v %v", h, err)
	}
	if err := alice.RemoveFriend("robert"); err != nil {
		t.Fatal(err)
	}
	if fs, _ := alice.Friends(); len(fs) != 0 {
		t.Fatalf("friends after remove: %v", fs)
	}
	h, err = alice.History("", 10)
	if err != nil || len(h) != 2 || h[0].Name != "" {
		t.Fatalf("history after the remove keeps the messages without a name: %+v %v", h, err)
	}
	for _, bad := range []string{"", "a b", "x/y", "sam\u202E", "a\x07b", "\u2066x", strings.Repeat("n", 65), "-", ".."} {
		if client.CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"zoë", "family👨\u200D👩", "o'neil"} {
		if err := client.CheckName(good); err != nil {
			t.Errorf("CheckName(%q): %v", good, err)
		}
	}
	if got := client.SafeFileName("invoice\u202Efdp.exe"); got != "invoice_fdp.exe" {
		t.Errorf("SafeFileName = %q", got)
	}
}

// A code that names no inviter (made by another program: its inviter's keys could be swapped
// by anyone holding it) is refused before anything is fetched or put.
func TestAcceptRefusesUnboundCode(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	bob := newPeer(t, 1, newClock())
	unbound := seal.Invite{Relay: r.addr()}
	unbound.Secret[0] = 1
	if _, err := bob.Accept(ctx(t), unbound, client.AcceptOptions{Name: "sam", Wait: time.Second}); !errors.Is(err, client.ErrUnboundInvite) {
		t.Fatalf("accept of an unbound code: %v, want ErrUnboundInvite", err)
	}
	if fs, _ := bob.Friends(); len(fs) != 0 {
		t.Fatalf("the refused accept stored a friend: %v", fs)
	}
}
