package relaytest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

func put(t *testing.T, r *Relay, tag echo.Tag, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	c, err := peers.DialClient(ctx, r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env, err := (&echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Tag: tag, Payload: []byte(payload)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Put(ctx, env); err != nil {
		t.Fatal(err)
	}
}

// has reports whether r holds a blob under tag (a fetch error counts as not yet).
func has(t *testing.T, r *Relay, tag echo.Tag) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()
	c, err := peers.DialClient(ctx, r.Addr())
	if err != nil {
		return false
	}
	defer c.Close()
	items, _, _, err := c.Fetch(ctx, []echo.Tag{tag}, 0, 0)
	return err == nil && len(items) > 0
}

func newTag(t *testing.T) echo.Tag {
	var tag echo.Tag
	if _, err := rand.Read(tag[:]); err != nil {
		t.Fatal(err)
	}
	return tag
}

// A chain of three over QUIC floods a blob put at one end to the other, and the middle relay
// has both ends as flooding links.
func TestStartChainFloods(t *testing.T) {
	rs := StartChain(t, 3, peers.SchemeQUIC)
	if len(rs) != 3 || len(rs[1].Node.FloodLinks()) != 2 || len(rs[0].Node.FloodLinks()) != 1 || len(rs[2].Node.FloodLinks()) != 1 {
		t.Fatalf("flood links %d, %d, %d", len(rs[0].Node.FloodLinks()), len(rs[1].Node.FloodLinks()), len(rs[2].Node.FloodLinks()))
	}
	if has(t, rs[2], newTag(t)) {
		t.Fatal("a relay holds a blob no one put")
	}
	tag := newTag(t)
	put(t, rs[0], tag, "end to end")
	testutil.Eventually(t, 30*time.Second, "the blob floods along the chain", func() bool { return has(t, rs[2], tag) })
}

// Two relays that Chain links over TCP+TLS carry a blob both ways.
func TestChainTLS(t *testing.T) {
	a, b := Start(t), Start(t)
	Chain(t, peers.SchemeTLS, a, b)
	if p := a.Node.FloodLinks(); len(p) != 1 {
		t.Fatalf("a has %d flooding links", len(p))
	}
	ta, tb := newTag(t), newTag(t)
	put(t, a, ta, "a to b")
	put(t, b, tb, "b to a")
	testutil.Eventually(t, 30*time.Second, "the blobs cross the TLS link", func() bool { return has(t, b, ta) && has(t, a, tb) })
}

// Down stops the relay (a client cannot reach it) and Up brings it back on its port with its
// identity and its stored blobs.
func TestDownUp(t *testing.T) {
	r := Start(t)
	addr, fp := r.Addr(), r.Node.Fingerprint()
	tag := newTag(t)
	put(t, r, tag, "kept")
	r.Down()
	if r.Node != nil || r.Store != nil {
		t.Fatal("Down left the node or the store")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(2*time.Second))
	if c, err := peers.DialClient(ctx, addr); err == nil {
		c.Close()
		cancel()
		t.Fatal("a relay that is down answers")
	}
	cancel()
	r.Down() // a second Down does nothing
	r.Up()
	if r.Addr() != addr || r.Node.Fingerprint() != fp {
		t.Fatalf("back on %s as %s, was %s as %s", r.Addr(), r.Node.Fingerprint(), addr, fp)
	}
	if !has(t, r, tag) {
		t.Fatal("the blob put before Down is gone")
	}
}
