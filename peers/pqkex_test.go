package peers

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// Relay and client links take only the post-quantum key exchange: a TLS or QUIC peer that
// offers X25519 alone (an old build, GODEBUG=tlsmlkem=0) is refused, on TCP counted as
// no_pq_kex; our own dial negotiates X25519MLKEM768 (issue #15 item 5).
func TestLinksRequirePostQuantumKeyExchange(t *testing.T) {
	tn := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	addr := "127.0.0.1:" + itoa(tn.Port())
	classical := func() *tls.Config {
		c := clientTLSFor(nil, "", false)
		c.CurvePreferences = []tls.CurveID{tls.X25519}
		return c
	}

	d := tls.Dialer{Config: classical()}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
		c.Close()
		t.Fatal("a TLS client offering only X25519 was admitted")
	}
	tn.waitClose(t, "no_pq_kex", 1)

	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := newClientTransport(udp)
	defer func() { tr.Close(); udp.Close() }()
	if qc, err := tr.Dial(ctx, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tn.Port()}, classical(), quicConfig(HandshakeTimeout)); err == nil {
		qc.CloseWithError(0, "")
		t.Fatal("a QUIC client offering only X25519 was admitted")
	}

	// A server that negotiates X25519 is refused by our client, by name.
	srv := &tls.Config{Certificates: []tls.Certificate{tn.cfg.Identity.Cert}, NextProtos: []string{ALPN}, CurvePreferences: []tls.CurveID{tls.X25519}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for i := 0; i < 1; i++ { // one connection: the test's own dial
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).HandshakeContext(ctx)
			c.Close()
		}
	}()
	_, err = dialTLS(ctx, Peer{Scheme: SchemeTLS, Addr: ln.Addr().String()}, nil)
	if err == nil {
		t.Fatal("our client linked to a server without X25519MLKEM768")
	}
	// Our client offers only the hybrid group, so such a server fails the handshake itself;
	// the error says what is likely missing.
	if !errors.Is(err, ErrNotPostQuantum) && !strings.Contains(err.Error(), "X25519MLKEM768") {
		t.Fatalf("the refusal does not name the missing key exchange: %v", err)
	}

	// Our own client negotiates the hybrid group.
	s, err := dialTLS(ctx, Peer{Scheme: SchemeTLS, Addr: addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close(0, "")
	if s.tls.CurveID != tls.X25519MLKEM768 {
		t.Fatalf("our link negotiated %v", s.tls.CurveID)
	}
}
