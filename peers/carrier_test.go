package peers

import (
	"net"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
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
	var la, lb []*link
	if !testutil.Poll(20*time.Second, func() bool {
		la, lb = neighbourLinks(a.Node), neighbourLinks(b.Node)
		return len(la) == 1 && len(lb) == 1 && (la[0].dialed != nil) != (lb[0].dialed != nil) &&
			a.relay.Snapshot().Neighbours == 1 && b.relay.Snapshot().Neighbours == 1
	}) {
		t.Fatalf("want one link between A and B; A holds %d, B %d", len(la), len(lb))
	}
	return la[0]
}

// Two relays that list each other both dial, yet keep one link between them: the status shows
// each neighbour once and up, a lost link is replaced, and a flood crosses it once.
func TestOneLinkPerNeighbour(t *testing.T) {
	t.Parallel()
	a := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	b := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	a.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(b.Port()), Pin: b.Fingerprint()}})
	b.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(a.Port()), Pin: a.Fingerprint()}})
	first := waitOneLink(t, a, b)

	// The status settles on the one peers-file line, up (a dialer whose link lost shows as
	// up through the neighbour's link once it noticed).
	for _, tn := range []*testNode{a, b} {
		var ns []NeighbourStatus
		if !testutil.Poll(10*time.Second, func() bool {
			ns = tn.Neighbours()
			return len(ns) == 1 && ns[0].State == "up" && !ns[0].Inbound && ns[0].Transport == "quic"
		}) {
			t.Fatalf("status lists %+v; want the one peers-file line, up over quic", ns)
		}
	}

	// The link drops: the two relays link again, still once.
	first.close(nil)
	second := waitOneLink(t, a, b)
	if second == first {
		t.Fatal("the closed link is still counted")
	}
	// The node is the flood rule's one record of its links: it hands over the carrier only.
	if fl := a.FloodLinks(); len(fl) != 1 || fl[0] != echo.Link(second) || fl[0].Kind() != echo.LinkRelay {
		t.Fatalf("A floods over %v; want only its live link to B, of kind relay", fl)
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

// A relay that linked to us before our peers file listed it was served as a client; once a
// reload lists it, the two end up with one neighbour link (before, this side's dials were
// refused as duplicates of a link it did not count as a neighbour's).
func TestListedLater(t *testing.T) {
	t.Parallel()
	a := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	b := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	a.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(b.Port()), Pin: b.Fingerprint()}})
	waitCount(t, "A's neighbours", 1, func() int64 { return int64(a.relay.Snapshot().Neighbours) })
	if b.relay.Snapshot().Neighbours != 0 {
		t.Fatal("B counts A as a neighbour before listing it")
	}
	b.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(a.Port()), Pin: a.Fingerprint()}})
	waitOneLink(t, a, b)
	// Either B closed the stranger link (now_a_neighbour), or B's own dial reached A first and
	// one of A's two links to B was closed as a duplicate (then the stranger link ends with it).
	var nowNeighbour, dup int64
	if !testutil.Poll(10*time.Second, func() bool {
		nowNeighbour, dup = b.Abuse().ClosesByReason["now_a_neighbour"], a.Abuse().ClosesByReason["duplicate_link"]
		return nowNeighbour+dup >= 1
	}) || nowNeighbour > 1 {
		t.Errorf("B closed %d stranger links as now_a_neighbour and A %d links as duplicate_link; want one of them",
			nowNeighbour, dup)
	}
}

// An unpinned line is recognised by the key it presented when dialed, whatever address the
// relay calls from later (a second address, NAT): before, only the source IP and listen port
// matched it, and a relay calling from elsewhere stayed a client while its own dial to us kept
// this side's dials refused as duplicates.
func TestUnpinnedLineLearnsItsKey(t *testing.T) {
	t.Parallel()
	a := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	b := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	elsewhere := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4242}
	if a.isNeighbour(b.Fingerprint(), elsewhere, 4242) {
		t.Fatal("B recognised from an address no line names before any dial")
	}
	a.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(b.Port())}}) // no pin
	waitCount(t, "A's neighbours", 1, func() int64 { return int64(a.relay.Snapshot().Neighbours) })
	if !a.isNeighbour(b.Fingerprint(), elsewhere, 4242) {
		t.Fatal("B not recognised by the key its line presented")
	}
	if a.isNeighbour(a.Fingerprint(), elsewhere, 4242) {
		t.Fatal("another key recognised from an address no line names")
	}
}
