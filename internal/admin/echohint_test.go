package admin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/peers"
)

// An echo+tls line that an RSA-keyed Spot-On-Lite listener hangs up on shows the cause in plain
// words and the hint (PROTOCOL.md section 10.8); other errors get no hint.
func TestEchoTLSHintShown(t *testing.T) {
	now := time.Now()
	err := fmt.Errorf("failed to complete TLS with 192.0.2.1:4710: %w (%s)", peers.ErrEchoTLSClosed, peers.EchoTLSHint)
	ns := Neighbours([]peers.NeighbourStatus{
		{Peer: "echo+tls://192.0.2.1:4710", State: "backoff", Since: now, LastError: err.Error()},
		{Peer: "echo+tcp://192.0.2.2:4710", State: "backoff", Since: now, LastError: "dial tcp 192.0.2.2:4710: connect: connection refused"},
	}, false, now)
	if ns[0].Hint != peers.EchoTLSHint || !strings.Contains(ns[0].LastError, "RSA key") || strings.Contains(ns[0].ErrorDetail, "192.0.2.1") {
		t.Fatalf("RSA-keyed listener: %+v", ns[0])
	}
	if ns[1].Hint != "" {
		t.Fatalf("a hint for a refused connection: %q", ns[1].Hint)
	}
}
