package peers

import (
	"container/list"
	"math"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// Abuse limits (PROTOCOL.md section 9). There are no accounts, so the node limits by what it
// sees: the source address of a client, the link of a neighbour, the clock.
//
// Client submissions pass token buckets keyed by source IP (an IPv6 address by its /64), so
// that reconnecting does not reset them; over a bucket the client gets ERROR rate_limited with
// the time until it may retry, never a silent drop. The table of buckets holds at most
// limiterEntries addresses, least recently used forgotten first (a forgotten bucket is a full
// one, so forgetting only ever loosens a limit, and a flood of source addresses cannot grow
// memory). A neighbour link has a bucket on BLOB frames; over it the reader waits for tokens
// (backpressure through the transport's flow control) rather than dropping, because a
// neighbour's burst after reconciliation is legitimate and dropping would only make the next
// reconciliation resend it.

// RateLimits configures the buckets. A zero rate disables its bucket.
type RateLimits struct {
	SubmitsPerSec  float64 // client SUBMITs per second per address
	SubmitBurst    int     // bucket size in SUBMITs
	BytesPerSec    float64 // client envelope bytes per second per address
	BytesBurst     int64   // bucket size in bytes; raised to the largest blob if smaller
	NeighbourBlobs float64 // BLOB frames per second per neighbour link
	NeighbourBurst int     // bucket size in BLOB frames
	FetchesPerSec  float64 // client FETCHes and SUBSCRIBEs per second per address
	FetchBurst     int     // bucket size in requests
}

// DefaultRateLimits suit a class of 30 behind one school NAT address: people send a message
// every few seconds at most (20/s leaves room for all of them at once, and a burst of 100 for a
// lesson's start), and the 32 MiB byte burst lets all 30 publish a 1 MiB McEliece public key
// together, with 2 MiB/s after that, about what a Raspberry Pi's SD card sustains for SQLite.
// A neighbour may send 20 000 blobs/s, bursts of 100 000: more than a relay stores even on a
// PC (about 13 000/s measured for a chain here), so the bucket never slows an honest mesh at
// full speed, and still stops one runaway neighbour from monopolising a relay's reader.
//
// A FETCH costs the relay an index walk and up to a page of reads: 50 a second per address,
// bursts of 250, let a client page through a backlog at 5000 blobs a second and a class open
// their inboxes together, while a loop of fetches from one address cannot keep the store busy.
func DefaultRateLimits() RateLimits {
	return RateLimits{SubmitsPerSec: 20, SubmitBurst: 100, BytesPerSec: 2 << 20, BytesBurst: 32 << 20,
		NeighbourBlobs: 20000, NeighbourBurst: 100000, FetchesPerSec: 50, FetchBurst: 250}
}

// Connection caps and timeouts. The timeouts are Config fields too (0 takes these), so that
// tests can shrink them.
const (
	DefaultMaxConnsPerIP = 128             // a quarter of DefaultMaxConns: one NAT cannot take them all
	FrameTimeout         = 5 * time.Second // a frame's grace once its first byte arrived ...
	MinFrameRate         = 16 << 10        // ... after which its bytes must keep arriving at this rate (bytes/s)
	IdleTimeout          = 5 * time.Minute // a client link without subscription that sends nothing
	limiterEntries       = 16384           // addresses remembered by the submit limiter
)

// bucket is a token bucket; the zero value is full once used through take.
type bucket struct {
	tokens float64
	last   time.Time
}

// need reports how long until the bucket holds n tokens (0 when it does now), refilling it to now.
func (b *bucket) need(now time.Time, rate, burst, n float64) time.Duration {
	if b.last.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = math.Min(burst, b.tokens+d*rate)
	}
	b.last = now
	if b.tokens >= n {
		return 0
	}
	return time.Duration((n - b.tokens) / rate * float64(time.Second))
}

// clientKey is the bucket key of a remote address: the IP, an IPv6 one cut to its /64.
func clientKey(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr()
		}
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip
}

type limiterEntry struct {
	key                     netip.Addr
	submits, bytes, fetches bucket
}

// limiter holds the per-address submit buckets.
type limiter struct {
	r   RateLimits
	max int

	mu  sync.Mutex // guards m and lru
	m   map[netip.Addr]*list.Element
	lru list.List // of *limiterEntry, most recent first
}

func newLimiter(r RateLimits, maxBlob int) *limiter {
	if r.BytesPerSec > 0 && r.BytesBurst < int64(maxBlob) {
		r.BytesBurst = int64(maxBlob) // else the largest blob could never pass
	}
	if r.SubmitsPerSec > 0 && r.SubmitBurst < 1 {
		r.SubmitBurst = 1
	}
	if r.FetchesPerSec > 0 && r.FetchBurst < 1 {
		r.FetchBurst = 1
	}
	return &limiter{r: r, max: limiterEntries, m: map[netip.Addr]*list.Element{}}
}

func (l *limiter) enabled() bool { return l.r.SubmitsPerSec > 0 || l.r.BytesPerSec > 0 }

// allowFetch takes one FETCH or SUBSCRIBE from key's bucket, or returns how long to wait.
func (l *limiter) allowFetch(key netip.Addr, now time.Time) (time.Duration, bool) {
	if l.r.FetchesPerSec <= 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(key)
	if wait := e.fetches.need(now, l.r.FetchesPerSec, float64(l.r.FetchBurst), 1); wait > 0 {
		return wait, false
	}
	e.fetches.tokens--
	return 0, true
}

// allow takes one submit and size bytes from key's buckets, or returns how long to wait.
func (l *limiter) allow(key netip.Addr, size int, now time.Time) (time.Duration, bool) {
	if !l.enabled() {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(key)
	var wait time.Duration
	if l.r.SubmitsPerSec > 0 {
		wait = max(wait, e.submits.need(now, l.r.SubmitsPerSec, float64(l.r.SubmitBurst), 1))
	}
	if l.r.BytesPerSec > 0 {
		wait = max(wait, e.bytes.need(now, l.r.BytesPerSec, float64(l.r.BytesBurst), float64(size)))
	}
	if wait > 0 {
		return wait, false
	}
	if l.r.SubmitsPerSec > 0 {
		e.submits.tokens--
	}
	if l.r.BytesPerSec > 0 {
		e.bytes.tokens -= float64(size)
	}
	return 0, true
}

// entry is key's buckets, made and marked most recently used; the caller holds mu.
func (l *limiter) entry(key netip.Addr) *limiterEntry {
	el, ok := l.m[key]
	if ok {
		l.lru.MoveToFront(el)
	} else {
		el = l.lru.PushFront(&limiterEntry{key: key})
		l.m[key] = el
		for l.lru.Len() > l.max {
			old := l.lru.Back()
			delete(l.m, old.Value.(*limiterEntry).key)
			l.lru.Remove(old)
		}
	}
	return el.Value.(*limiterEntry)
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// rateLimited is the error a client sees when what (its submissions, its fetches) is over its
// bucket; retry_after_ms rounds up so that a client that waits exactly that long finds its
// tokens.
func rateLimited(wait time.Duration, what string) error {
	wait = (wait + time.Millisecond - 1).Truncate(time.Millisecond)
	return &echo.Error{Code: echo.CodeRateLimited, RetryAfter: wait, Msg: "too many " + what + " from this address"}
}

// throttle makes a neighbour link's reader wait for a BLOB token (backpressure).
func (l *link) throttle() error {
	r := l.node.cfg.Rates
	if r.NeighbourBlobs <= 0 {
		return nil
	}
	burst := float64(max(r.NeighbourBurst, 1))
	wait := l.blobBucket.need(time.Now(), r.NeighbourBlobs, burst, 1)
	if wait > 0 {
		l.node.abuse.throttled.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return net.ErrClosed
		}
		l.blobBucket.need(time.Now(), r.NeighbourBlobs, burst, 1)
	}
	l.blobBucket.tokens--
	return nil
}

// abuseCounters are the node's counters of refused and closed connections.
type abuseCounters struct {
	rateLimited  atomic.Int64 // SUBMITs answered rate_limited
	fetchLimited atomic.Int64 // FETCHes and SUBSCRIBEs answered rate_limited
	throttled    atomic.Int64 // times a neighbour's reader waited for its BLOB bucket
	perIP        atomic.Int64 // connections refused over MaxConnsPerIP

	mu     sync.Mutex // guards closes and ipConns
	closes map[string]int64
	// ipConns counts open connections per source key, for MaxConnsPerIP.
	ipConns map[netip.Addr]int
}

func (a *abuseCounters) closed(reason string) {
	a.mu.Lock()
	if a.closes == nil {
		a.closes = map[string]int64{}
	}
	a.closes[reason]++
	a.mu.Unlock()
}

// AbuseStats is a snapshot of the node's abuse counters, for the status page. No addresses.
//
// ClosesByReason counts every connection's end under one short name. Refused or failed before
// a link: busy (over MaxConns, or a neighbour slot on trial that no listed key took: slots.go),
// per_ip (over MaxConnsPerIP), key_changed (a dial of an unpinned line met another key than
// the one pinned on first use, or a relay claimed such a line with another key: known.go),
// tls_handshake (TCP+TLS handshake
// failed or timed out), no_stream (QUIC connection that opened no stream in time). A link's
// end: local_close (this node closed it), peer_close (the peer hung up between frames),
// truncated (it hung up inside a frame), peer_error (it sent a link-level ERROR), a protocol
// error code name for a link this node closed with that ERROR (malformed, not_neighbour,
// unsupported_version, ...), handshake_timeout (no HELLO in time), idle (a client silent for
// IdleTimeout), frame_timeout (a frame begun and not finished in time), write_timeout (the
// peer stopped reading), write_failed, timeout (the transport's own) and io_error.
type AbuseStats struct {
	RateLimited     int64            `json:"rate_limited"`      // SUBMITs answered rate_limited
	FetchLimited    int64            `json:"fetch_limited"`     // FETCHes and SUBSCRIBEs answered rate_limited
	NeighbourWaits  int64            `json:"neighbour_waits"`   // BLOB reads delayed by a neighbour's bucket
	RefusedBusy     int64            `json:"refused_busy"`      // connections over MaxConns
	RefusedPerIP    int64            `json:"refused_per_ip"`    // connections over MaxConnsPerIP
	Conns           int              `json:"conns"`             // open connections
	LimiterEntries  int              `json:"limiter_addresses"` // addresses with a submit bucket
	ClosesByReason  map[string]int64 `json:"closes_by_reason"`  // links and connections ended, by reason
	StampBits       int              `json:"stamp_bits"`
	SubmitsPerSec   float64          `json:"rate_submits"`
	BytesPerSec     float64          `json:"rate_bytes"`
	NeighbourBlobsS float64          `json:"rate_neighbour_blobs"`
	FetchesPerSec   float64          `json:"rate_fetches"`
}

// Abuse returns the abuse counters.
func (n *Node) Abuse() AbuseStats {
	s := AbuseStats{
		RateLimited: n.abuse.rateLimited.Load(), FetchLimited: n.abuse.fetchLimited.Load(), NeighbourWaits: n.abuse.throttled.Load(),
		RefusedBusy: n.refused.Load(), RefusedPerIP: n.abuse.perIP.Load(), Conns: int(n.conns.Load()) + n.slots.count(),
		LimiterEntries: n.limiter.len(), ClosesByReason: map[string]int64{},
		StampBits: int(n.cfg.StampBits), SubmitsPerSec: n.cfg.Rates.SubmitsPerSec,
		BytesPerSec: n.cfg.Rates.BytesPerSec, NeighbourBlobsS: n.cfg.Rates.NeighbourBlobs,
		FetchesPerSec: n.cfg.Rates.FetchesPerSec,
	}
	n.abuse.mu.Lock()
	for k, v := range n.abuse.closes {
		s.ClosesByReason[k] = v
	}
	n.abuse.mu.Unlock()
	return s
}

// CloseReasons lists the reasons counted so far, sorted (for logs and tests).
func (s AbuseStats) CloseReasons() []string {
	out := make([]string, 0, len(s.ClosesByReason))
	for k := range s.ClosesByReason {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
