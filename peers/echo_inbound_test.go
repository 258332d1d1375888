package peers

import (
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
)

// An `inbound` line takes the Echo node that dials the relay from its host: the link is the
// line's (its status row, its options), and what arrives while the node is away is sent when it
// dials again.
func TestEchoInboundLine(t *testing.T) {
	t.Parallel()
	r, line := startEchoLine(t, Config{EchoListen: "echo+tcp://127.0.0.1:0"}, "echo+tcp://127.0.0.1:4710 inbound settle=100ms") // a Spot-On-Lite node with an RSA key
	spot := newEchoTestPeer(t, 8<<20)
	spot.dial(t, r.EchoAddr())
	r.waitLine(t, line, true)
	a := r.put(t, []byte("while the inbound node is linked"))
	spot.wait(t, "the live blob", a)
	for _, s := range r.Neighbours() {
		if s.Inbound {
			t.Fatalf("the call from the line's host shows as an anonymous inbound link: %+v", s)
		}
	}

	spot.down()
	r.waitLine(t, line, false)
	b := r.put(t, []byte("while the inbound node is away"))
	spot.dial(t, r.EchoAddr())
	spot.wait(t, "the blob that arrived while the node was away", b)
	if c := spot.count(a); c < 1 || c > 2 {
		t.Fatalf("the live blob arrived %d times", c)
	}
}

// The way to link an RSA-keyed Spot-On-Lite node: it dials the relay's echo+tls listener, and an
// inbound line recognises it; data flows both ways over TLS.
func TestEchoInboundTLS(t *testing.T) {
	t.Parallel()
	r, line := startEchoLine(t, Config{EchoListen: "echo+tls://127.0.0.1:0"}, "echo+tls://127.0.0.1:4710 inbound settle=100ms silence=20s")
	spot := newEchoTestPeer(t, 8<<20)
	spot.dialTLS(t, r.EchoAddr())
	r.waitLine(t, line, true)
	out := r.put(t, []byte("to the Spot-On-Lite node over TLS"))
	spot.wait(t, "the blob over TLS", out)
	spot.mu.Lock()
	c := spot.conns[0]
	spot.mu.Unlock()
	in := []byte("POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\ncontent=aGk=\nYWI=\nYQ\r\n\r\n\r\n")
	if _, err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the multi-group message from the TLS link", func() bool {
		return r.echo.CarriedWhole.Load() == 1 && r.relay.Snapshot().Stored == 2
	})
}
