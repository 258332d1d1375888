package peers

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestBucketRefill(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_000_000, 0)
	var b bucket
	if w := b.need(t0, 10, 3, 1); w != 0 || b.tokens != 3 {
		t.Fatalf("a fresh bucket is full: wait %s tokens %v", w, b.tokens)
	}
	b.tokens = 0
	if w := b.need(t0, 10, 3, 1); w != 100*time.Millisecond {
		t.Fatalf("empty bucket at 10/s: wait %s, want 100ms", w)
	}
	if w := b.need(t0.Add(50*time.Millisecond), 10, 3, 1); w != 50*time.Millisecond {
		t.Fatalf("half refilled: wait %s, want 50ms", w)
	}
	if w := b.need(t0.Add(time.Hour), 10, 3, 1); w != 0 || b.tokens != 3 {
		t.Fatalf("refill is capped at the burst: wait %s tokens %v", w, b.tokens)
	}
}

func TestLimiterPerAddressAndBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLimiter(RateLimits{SubmitsPerSec: 2, SubmitBurst: 3, BytesPerSec: 1000, BytesBurst: 100}, 4000)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := 0; i < 3; i++ {
		if _, ok := l.allow(a, 10, now); !ok {
			t.Fatalf("submit %d within the burst refused", i)
		}
	}
	wait, ok := l.allow(a, 10, now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th submit: ok %v wait %s, want refused for 500ms", ok, wait)
	}
	if _, ok := l.allow(b, 10, now); !ok {
		t.Fatal("another address shares the bucket")
	}
	if _, ok := l.allow(a, 10, now.Add(wait)); !ok {
		t.Fatal("refused after waiting retry_after")
	}
	// Bytes: the burst was raised to the largest blob (4000), so one 4000-byte blob passes and
	// the next waits 4 s at 1000 B/s.
	c := netip.MustParseAddr("192.0.2.3")
	if _, ok := l.allow(c, 4000, now); !ok {
		t.Fatal("a largest blob cannot pass the byte bucket")
	}
	if wait, ok := l.allow(c, 4000, now); ok || wait != 4*time.Second {
		t.Fatalf("second largest blob: ok %v wait %s", ok, wait)
	}
	// A flood of source addresses does not grow the table past its bound.
	for i := 0; i < limiterEntries+500; i++ {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1, now)
	}
	if n := l.len(); n != limiterEntries || len(l.m) != limiterEntries {
		t.Fatalf("table holds %d (map %d), bound %d", n, len(l.m), limiterEntries)
	}
	if (&limiter{}).enabled() {
		t.Fatal("zero limits must be disabled")
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	cases := map[string]net.Addr{
		"192.0.2.7":      &net.UDPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1},
		"192.0.2.8":      &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.8"), Port: 2},
		"2001:db8:1:2::": &net.UDPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), Port: 3},
	}
	for want, a := range cases {
		if got := clientKey(a); got.String() != want {
			t.Errorf("%v: key %s, want %s", a, got, want)
		}
	}
}
