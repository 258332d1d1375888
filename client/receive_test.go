//go:build !js

package client_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/testutil"
)

// A relay and three friends: alice and carol are both friends of bob, eve is nobody's.
type scene struct {
	r                 *relay
	clk               *clock
	alice, bob, carol *peer
	eve               *seal.Identity
}

func newScene(t *testing.T) *scene {
	t.Helper()
	s := &scene{r: startRelay(t), clk: newClock()}
	s.alice, s.bob, s.carol = newPeer(t, 0, s.clk), newPeer(t, 1, s.clk), newPeer(t, 2, s.clk)
	s.eve = identity(t, 3)
	befriend(t, s.r, s.bob, "bob", s.alice, "alice", "")
	befriend(t, s.r, s.bob, "bob", s.carol, "carol", "")
	return s
}

// toBob seals content from sender to bob as of at.
func (s *scene) toBob(t *testing.T, sender *seal.Identity, typ seal.ContentType, content []byte, at time.Time) []byte {
	t.Helper()
	p, _, err := seal.Seal(sender, s.bob.id.Bundle(), typ, content, at)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// inAlices puts payload under the tag alice writes to bob with.
func (s *scene) inAlices(t *testing.T, payload []byte) {
	s.r.put(t, tagFrom(s.bob, "alice", s.alice.id, s.clk.Now()), payload)
}

func rejected(t *testing.T, evs []client.Event, want client.RejectReason) client.RejectedEvent {
	t.Helper()
	e := one[client.RejectedEvent](t, evs)
	if e.Reason != want || e.Mailbox != "alice" {
		t.Fatalf("rejected %v in %q's mailbox, want %v in alice's", e.Reason, e.Mailbox, want)
	}
	return e
}

// Every receiver rule of PROTOCOL.md 7.3-7.5, each with a blob made to break it, put on a real
// relay under alice's tag and read by bob. A good message follows each bad one, so that a
// rule that dropped too much would show.
func TestReceiverRules(t *testing.T) {
	t.Parallel()
	s := newScene(t)
	now := s.clk.Now()
	good := func(t *testing.T) {
		t.Helper()
		text := "good " + now.String()
		s.inAlices(t, s.toBob(t, s.alice.id, seal.TypeText, []byte(text), s.clk.Now()))
		if e := one[client.MessageEvent](t, receive(t, s.bob)); e.From != "alice" || e.Text != text {
			t.Fatalf("good message: %#v", e)
		}
	}
	good(t)

	t.Run("unknown sender", func(t *testing.T) {
		s.inAlices(t, s.toBob(t, s.eve, seal.TypeText, []byte("from eve"), now))
		rejected(t, receive(t, s.bob), client.RejectUnknownSender)
		good(t)
	})
	t.Run("tampered outside", func(t *testing.T) {
		p := s.toBob(t, s.alice.id, seal.TypeText, []byte("flip"), now)
		p[len(p)-100] ^= 0x10
		s.inAlices(t, p)
		rejected(t, receive(t, s.bob), client.RejectNotForMe)
		good(t)
	})
	t.Run("sealed to someone else", func(t *testing.T) {
		p, _, err := seal.Seal(s.alice.id, s.carol.id.Bundle(), seal.TypeText, []byte("for carol"), now)
		if err != nil {
			t.Fatal(err)
		}
		s.inAlices(t, p)
		rejected(t, receive(t, s.bob), client.RejectNotForMe)
		good(t)
	})
	t.Run("tampered inside, and it does not burn the message ID", func(t *testing.T) {
		p := s.toBob(t, s.alice.id, seal.TypeText, []byte("signed"), now)
		forged := reseal(t, s.bob.id, s.bob.id.Bundle(), p, func(padded []byte) {
			n := binary.BigEndian.Uint32(padded[90:])
			padded[94+n] ^= 1 // the Ed25519 signature
		})
		s.inAlices(t, forged)
		rejected(t, receive(t, s.bob), client.RejectTampered)
		s.inAlices(t, p) // the real one, same message ID: not a replay
		if e := one[client.MessageEvent](t, receive(t, s.bob)); e.Text != "signed" {
			t.Fatalf("the real message after its forgery: %#v", e)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		p := s.toBob(t, s.alice.id, seal.TypeText, []byte("once"), now)
		s.inAlices(t, p)
		one[client.MessageEvent](t, receive(t, s.bob))
		again := reseal(t, s.bob.id, s.bob.id.Bundle(), p, nil) // the same message in another blob
		s.inAlices(t, again)
		rejected(t, receive(t, s.bob), client.RejectReplay)
		// The same blob read again (a cursor reset; watch then inbox) is skipped silently.
		f, _ := s.bob.Friend("alice")
		fp := f.Fingerprint()
		s.bob.st.SetCursor(f.MyRelay, "friend:"+hexPrefix(fp[:8]), 0)
		// What was rejected before is rejected again (it never authenticated, so it is not in
		// the seen set); what was shown is not shown again.
		evs := receive(t, s.bob)
		for _, e := range evs {
			if _, ok := e.(client.RejectedEvent); !ok {
				t.Fatalf("re-reading the mailbox shows %#v", e)
			}
		}
		if len(evs) != 5 {
			t.Fatalf("re-reading the mailbox: %d rejections, want the 5 of before", len(evs))
		}
		good(t)
	})
	t.Run("misaddressed: signed for another recipient and re-sealed", func(t *testing.T) {
		p, _, err := seal.Seal(s.alice.id, s.carol.id.Bundle(), seal.TypeText, []byte("for carol only"), now)
		if err != nil {
			t.Fatal(err)
		}
		s.inAlices(t, reseal(t, s.carol.id, s.bob.id.Bundle(), p, nil)) // carol passes it on
		rejected(t, receive(t, s.bob), client.RejectMisaddressed)
		good(t)
	})
	t.Run("misaddressed: signed by a friend other than the mailbox's owner", func(t *testing.T) {
		s.inAlices(t, s.toBob(t, s.carol.id, seal.TypeText, []byte("carol in alice's box"), now))
		if e := rejected(t, receive(t, s.bob), client.RejectWrongSender); e.Detail != "signed by carol" {
			t.Fatalf("detail %q", e.Detail)
		}
		good(t)
	})
	t.Run("short file", func(t *testing.T) {
		ch := seal.FileChunk{FileID: [16]byte{1}, Count: 1, Size: 100, Name: "short.txt", Data: bytes.Repeat([]byte("x"), 50)}
		s.inAlices(t, s.toBob(t, s.alice.id, seal.TypeFile, ch.Marshal(), now))
		if e := one[client.FileShortEvent](t, receive(t, s.bob)); e.Got != 50 || e.Want != 100 || e.Name != "short.txt" {
			t.Fatalf("short file: %#v", e)
		}
		good(t)
	})
	t.Run("bad chunk", func(t *testing.T) {
		for _, content := range [][]byte{
			[]byte("too short"),
			(&seal.FileChunk{FileID: [16]byte{2}, Count: 1, Size: 1, Name: "../escape", Data: []byte("x")}).Marshal(),
			(&seal.FileChunk{FileID: [16]byte{3}, Index: 2, Count: 2, Size: 1, Name: "a", Data: []byte("x")}).Marshal(),
		} {
			s.inAlices(t, s.toBob(t, s.alice.id, seal.TypeFile, content, now))
			rejected(t, receive(t, s.bob), client.RejectBadChunk)
		}
		good(t)
	})
	t.Run("unknown type", func(t *testing.T) {
		s.inAlices(t, s.toBob(t, s.alice.id, seal.ContentType(9), []byte("?"), now))
		if e := one[client.UnknownTypeEvent](t, receive(t, s.bob)); e.Type != 9 || e.From != "alice" {
			t.Fatalf("unknown type: %#v", e)
		}
		good(t)
	})
	t.Run("time outside the window", func(t *testing.T) {
		// The relay's lifetime is 30 days, the skew 10 minutes.
		for _, d := range []time.Duration{-30*24*time.Hour - 11*time.Minute, 11 * time.Minute, 10 * 365 * 24 * time.Hour} {
			s.inAlices(t, s.toBob(t, s.alice.id, seal.TypeText, []byte("when?"), now.Add(d)))
			rejected(t, receive(t, s.bob), client.RejectTime)
		}
		for _, d := range []time.Duration{-30*24*time.Hour + time.Minute, 9 * time.Minute} {
			s.inAlices(t, s.toBob(t, s.alice.id, seal.TypeText, []byte("in time"), now.Add(d)))
			one[client.MessageEvent](t, receive(t, s.bob))
		}
	})
	t.Run("blocked sender dropped silently", func(t *testing.T) {
		if err := s.bob.BlockFriend("alice", true); err != nil {
			t.Fatal(err)
		}
		s.inAlices(t, s.toBob(t, s.alice.id, seal.TypeText, []byte("blocked"), now))
		s.r.put(t, tagFrom(s.bob, "carol", s.alice.id, now), s.toBob(t, s.alice.id, seal.TypeText, []byte("blocked, elsewhere"), now))
		if evs := receive(t, s.bob); len(evs) != 0 {
			t.Fatalf("a blocked friend's blobs: %#v", evs)
		}
		if err := s.bob.BlockFriend("alice", false); err != nil {
			t.Fatal(err)
		}
		if evs := receive(t, s.bob); len(evs) != 0 {
			t.Fatalf("unblocking brings back what was dropped: %#v", evs)
		}
		good(t)
	})
}

func hexPrefix(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// A file of several chunks arrives whole, once, under its name made safe.
func TestFileChunksReassembled(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	clk := newClock()
	a, b := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, a, "alice", b, "bob", "")
	content := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB: two chunks at 2 MiB blobs
	res, err := a.SendFile(ctx(t), "bob", "atlas\u202Efdp.bin", content, client.SendOptions{})
	if err != nil || res.Queued || res.Chunks != 2 {
		t.Fatalf("send: %+v %v", res, err)
	}
	e := one[client.FileEvent](t, receive(t, b))
	if e.Size != uint64(len(content)) || e.From != "alice" {
		t.Fatalf("file event: %#v", e)
	}
	got, err := os.ReadFile(e.Where)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("saved file: %d bytes, %v", len(got), err)
	}
	if !bytes.HasSuffix([]byte(e.Where), []byte("atlas_fdp.bin")) {
		t.Fatalf("saved as %q", e.Where)
	}
}

// The seen set is pruned to the relays' lifetime plus skew, and capped.
func TestSeenSetBounded(t *testing.T) {
	t.Parallel()
	r := startRelay(t)
	clk := newClock()
	a := newPeer(t, 0, clk)
	st := client.NewMemStore()
	b, err := client.New(client.Options{Identity: identity(t, 1), Store: st, Dial: dial, Now: clk.Now, MaxSeen: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bp := &peer{Client: b, id: identity(t, 1), st: st}
	befriend(t, r, a, "alice", bp, "bob", "")
	for i := range 5 {
		if _, err := a.SendText(ctx(t), "bob", "n"+string(rune('0'+i)), client.SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if evs := receive(t, bp); len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	if n := st.SeenCount(); n != 3 {
		t.Fatalf("seen set holds %d entries, want the cap 3", n)
	}
	clk.Add(30*24*time.Hour + 11*time.Minute)
	receive(t, bp)
	if n := st.SeenCount(); n != 0 {
		t.Fatalf("seen set holds %d entries after the lifetime, want 0", n)
	}
	_ = testutil.Timeout
}
