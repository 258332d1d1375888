package peers

import (
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/store"
)

// neighbourLinks lists n's open links to neighbour relays.
func neighbourLinks(n *Node) []*link {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*link
	for l := range n.links {
		if l.neighbour != "" && !isClosed(l.closed) {
			out = append(out, l)
		}
	}
	return out
}

// waitOneLink waits until a and b hold exactly one neighbour link each, dialed by one of them
// (the same connection seen from both ends), and returns a's.
func waitOneLink(t *testing.T, a, b *testNode) *link {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second * slowFactor())
	for {
		la, lb := neighbourLinks(a.Node), neighbourLinks(b.Node)
		if len(la) == 1 && len(lb) == 1 && (la[0].dialed != nil) != (lb[0].dialed != nil) &&
			a.relay.Snapshot().Neighbours == 1 && b.relay.Snapshot().Neighbours == 1 {
			return la[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("want one link between A and B; A holds %d, B %d", len(la), len(lb))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two relays that list each other both dial, yet keep one link between them: the status shows
// each neighbour once and up, a lost link is replaced, and a flood crosses it once.
func TestOneLinkPerNeighbour(t *testing.T) {
	a := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	b := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	a.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(b.Port()), Pin: b.Fingerprint()}})
	b.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(a.Port()), Pin: a.Fingerprint()}})
	first := waitOneLink(t, a, b)

	for _, tn := range []*testNode{a, b} {
		ns := tn.Neighbours()
		if len(ns) != 1 || ns[0].State != "up" || ns[0].Inbound || ns[0].Transport != "quic" {
			t.Fatalf("status lists %+v; want the one peers-file line, up over quic", ns)
		}
	}

	// The link drops: the two relays link again, still once.
	first.close(nil)
	second := waitOneLink(t, a, b)
	if second == first {
		t.Fatal("the closed link is still counted")
	}

	// A blob submitted at A reaches B once.
	env := mkEnv(t, time.Now().Add(time.Hour), 512)
	c, err := DialClient(t.Context(), a.addr(SchemeQUIC))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Put(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "blobs at B", 1, func() int64 { return b.st.Stats().Blobs })
	if d := b.relay.Snapshot().Duplicates; d != 0 {
		t.Errorf("B dropped %d duplicates: the flood crossed more than one link", d)
	}
}
