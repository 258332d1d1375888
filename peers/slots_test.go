package peers

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// The bookkeeping of neighbour slots (slots.go): with the client slots full a connection gets a
// neighbour slot on trial, two per address; after the handshake an unlisted key is refused
// and gives it back, a listed one keeps it; a listed neighbour in a client slot moves out of
// it; every slot is given back.
func TestNeighbourSlotBookkeeping(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{MaxConns: 2, MaxConnsPerIP: -1, NeighbourSlots: 3}, store.Options{}, echo.Limits{})
	pin := strings.Repeat("ab", 32)
	tn.mu.Lock()
	tn.peers = []Peer{{Scheme: SchemeQUIC, Addr: "192.0.2.99:7443", Pin: pin}}
	tn.mu.Unlock()
	at := func(ip byte, port int) net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, ip), Port: port} }
	clients := func() int32 { return tn.conns.Load() }
	for p := 1; p <= 2; p++ {
		if !tn.connSlotOrTrial(at(1, p)) {
			t.Fatalf("client %d refused with free slots", p)
		}
	}
	if !tn.connSlotOrTrial(at(1, 3)) || !tn.connSlotOrTrial(at(1, 4)) {
		t.Fatal("no neighbour slot on trial with the client slots full")
	}
	if tn.connSlotOrTrial(at(1, 5)) {
		t.Fatal("a third trial from one address")
	}
	if tn.connSlot(at(2, 1)) {
		t.Fatal("a connection that cannot say who it is got a trial")
	}
	if got := tn.Abuse().RefusedBusy; got != 2 {
		t.Fatalf("refused busy %d, want 2", got)
	}
	if tn.proveSlot(at(1, 3), strings.Repeat("cd", 32)) {
		t.Fatal("an unlisted key kept its trial")
	}
	tn.connDone(at(1, 3))
	if !tn.proveSlot(at(1, 4), pin) {
		t.Fatal("a listed key lost its trial")
	}
	if got := tn.Abuse().Conns; got != 3 || clients() != 2 {
		t.Fatalf("%d connections (%d in client slots), want 2 clients and 1 neighbour", got, clients())
	}
	// A listed neighbour that came in through a client slot leaves it to clients.
	tn.connDone(at(1, 1))
	if !tn.connSlotOrTrial(at(3, 1)) || !tn.proveSlot(at(3, 1), pin) || clients() != 1 {
		t.Fatalf("the neighbour still holds a client slot: %d in client slots", clients())
	}
	if !tn.connSlot(at(4, 1)) {
		t.Fatal("the slot a neighbour left was not free for a client")
	}
	// Neighbour slots are 3: two neighbours and one trial fill them.
	if !tn.connSlotOrTrial(at(5, 1)) || tn.connSlotOrTrial(at(6, 1)) {
		t.Fatal("neighbour slots over their number")
	}
	for _, a := range []net.Addr{at(1, 2), at(1, 4), at(3, 1), at(4, 1), at(5, 1)} {
		tn.connDone(a)
	}
	if got := tn.Abuse().Conns; got != 0 || len(tn.slots.held) != 0 || len(tn.slots.trialIP) != 0 {
		t.Fatalf("left after every close: %d connections, %v held, %v trials", got, tn.slots.held, tn.slots.trialIP)
	}
}

// Clients hold every client slot (issue #15 item 4): a new client and an unlisted relay are
// refused as busy, and a listed neighbour still links. Before, the neighbour was refused too.
func TestNeighbourSlotsWhileClientsHoldAll(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{MaxConns: 4, MaxConnsPerIP: -1, FrameTimeout: testutil.Timeout(time.Minute)}, store.Options{}, echo.Limits{})
	for i := range 4 {
		c := rawDial(t, tn, []string{SchemeTLS, SchemeQUIC}[i%2], nil)
		c.hello(echo.RoleClient)
		c.write([]byte{0, 0, 1, 0, byte(echo.FrameSubmit), 1, 2}) // a frame begun, never finished
	}
	waitCount(t, "client connections", 4, func() int64 { return int64(tn.Abuse().Conns) })
	ctx := t.Context()
	if c, err := DialClient(ctx, tn.addr(SchemeTLS)); err == nil {
		_, _, err = c.Put(ctx, mkEnv(t, time.Now().Add(time.Hour), 10))
		c.Close()
		if err == nil {
			t.Fatal("a fifth client was served with four client slots")
		}
	}
	stranger, _ := NewEphemeralIdentity()
	rc := rawDial(t, tn, SchemeQUIC, stranger)
	rc.hello(echo.RoleRelay)
	rc.drain(testutil.Timeout(10 * time.Second))
	nb := neighbours(t, tn, 1)[0] // fails unless the listed neighbour links
	nb.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: mkEnv(t, time.Now().Add(time.Hour), 100)})
	waitCount(t, "the neighbour's blob", 1, func() int64 { return tn.relay.Snapshot().Stored })
	if got := tn.Abuse().ClosesByReason["busy"]; got < 2 {
		t.Fatalf("busy refusals %d, want at least 2 (the client and the unlisted relay)", got)
	}
}
