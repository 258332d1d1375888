package peers

import (
	"context"
	"crypto/tls"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// startNode runs a real node (real SQLite file, real sockets on loopback).
func startNode(t *testing.T) *Node {
	t.Helper()
	return startTestNode(t, Config{}, store.Options{}, echo.Limits{}).Node
}

func envelope(t *testing.T, payload string) []byte {
	e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Payload: []byte(payload)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The Go default key exchange must stay on: the negotiated group is the hybrid
// X25519MLKEM768 on both transports.
func TestHybridKeyExchange(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for _, scheme := range []string{"quic://", "tls://"} {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
		c, err := DialClient(ctx, scheme+"127.0.0.1:"+itoa(n.Port()))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		st := c.TLS()
		if st.CurveID != tls.X25519MLKEM768 {
			t.Errorf("%s negotiated %v, want X25519MLKEM768", scheme, st.CurveID)
		}
		if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != ALPN {
			t.Errorf("%s: version %x alpn %q", scheme, st.Version, st.NegotiatedProtocol)
		}
		if got := Fingerprint(st.PeerCertificates[0]); got != n.Fingerprint() {
			t.Errorf("%s: relay fingerprint %s, want %s", scheme, got, n.Fingerprint())
		}
		c.Close()
	}
}

func TestClientPutFetchBothTransports(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for i, scheme := range []string{"quic://", "tls://"} {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
		defer cancel()
		c, err := DialClient(ctx, scheme+"127.0.0.1:"+itoa(n.Port()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		env := envelope(t, "hello "+scheme)
		id, dup, err := c.Put(ctx, env)
		if err != nil || dup || id != echo.BlobID(env) {
			t.Fatalf("%s put: id %v dup %v err %v", scheme, id, dup, err)
		}
		if _, dup, err := c.Put(ctx, env); err != nil || !dup {
			t.Fatalf("%s second put: dup %v err %v", scheme, dup, err)
		}
		items, next, more, err := c.Fetch(ctx, nil, 0, 0)
		if err != nil || len(items) != i+1 || more || next != items[len(items)-1].Seq {
			t.Fatalf("%s fetch: %d items next %d more %v err %v", scheme, len(items), next, more, err)
		}
		c.Close()
	}
}

func TestPinMismatchRefused(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	wrong := strings.Repeat("ab", 32)
	_, err := n.quic.dial(ctx, Peer{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(n.Port()), Pin: wrong}, nil)
	// The status page's hint matches "does not match the pin" (internal/admin).
	if !errors.Is(err, ErrWrongRelay) || !strings.Contains(err.Error(), "does not match the pin "+wrong) {
		t.Fatalf("dial with wrong pin: %v", err)
	}
	s, err := n.quic.dial(ctx, Peer{Scheme: SchemeQUIC, Addr: "127.0.0.1:" + itoa(n.Port()), Pin: n.Fingerprint()}, nil)
	if err != nil {
		t.Fatalf("dial with right pin: %v", err)
	}
	s.close(0, "")
}

func TestParsePeers(t *testing.T) {
	t.Parallel()
	pin := strings.Repeat("0f", 32)
	in := "# neighbours\n\n127.0.0.1:7788\nquic://10.0.0.2:1  # spelled out\ntls://[::1]:7788 " + pin + "\nexample.org:9 sha256:" + strings.ToUpper(pin) + "\n"
	ps, err := ParsePeers(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:7788"}, {Scheme: SchemeQUIC, Addr: "10.0.0.2:1", Label: "spelled out"}, {Scheme: SchemeTLS, Addr: "[::1]:7788", Pin: pin}, {Scheme: SchemeQUIC, Addr: "example.org:9", Pin: pin}}
	if len(ps) != len(want) {
		t.Fatalf("got %d peers", len(ps))
	}
	for i := range want {
		if ps[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, ps[i], want[i])
		}
	}
	for _, bad := range []string{"nohost", "1.2.3.4:0", "1.2.3.4:70000", "udp://1.2.3.4:5", "1.2.3.4:5 abc", "1.2.3.4:5 " + pin + " extra"} {
		if _, err := ParsePeers(strings.NewReader("# ok\n" + bad + "\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: err %v, want a line-2 error", bad, err)
		}
	}
}

// The comment after an entry becomes its label: trimmed, one line, control characters gone, at
// most MaxLabel runes; a label change keeps the line's Key, so a reload does not redial.
func TestPeersFileLabels(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", MaxLabel+10)
	in := "192.168.1.20:7788 # classroom pi\n" +
		"10.0.0.3:7788\t#\t  Mrs  Smith's\tlaptop  \n" +
		"10.0.0.4:7788 #\n" +
		"10.0.0.5:7788 # " + long + "\n" +
		"10.0.0.6:7788 # a \x01bell\x7f # and more\n" +
		"# 10.0.0.7:7788 a commented-out line\n"
	ps, err := ParsePeers(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"classroom pi", "Mrs Smith's laptop", "", strings.Repeat("é", MaxLabel), "a bell # and more"}
	if len(ps) != len(want) {
		t.Fatalf("got %d peers, want %d", len(ps), len(want))
	}
	for i, w := range want {
		if ps[i].Label != w {
			t.Errorf("line %d: label %q, want %q", i+1, ps[i].Label, w)
		}
	}
	relabelled, _ := ParsePeer("192.168.1.20:7788")
	if relabelled.Key() != ps[0].Key() {
		t.Errorf("a label changes the key: %q vs %q", relabelled.Key(), ps[0].Key())
	}
}

func TestBackoffFirstRetryWithinASecond(t *testing.T) {
	t.Parallel()
	for i := 0; i < 1000; i++ {
		if d := backoff(0); d < 500*time.Millisecond || d >= time.Second {
			t.Fatalf("first retry after %s", d)
		}
		if d := backoff(20); d < BackoffMax/2 || d >= BackoffMax {
			t.Fatalf("capped backoff %s", d)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
