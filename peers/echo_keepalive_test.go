package peers

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// bareEchoNode is a Node with only what an Echo link touches and no sockets, for a synctest
// bubble: its relay has no store (no backlog, no data accepted).
func bareEchoNode(t *testing.T) *Node {
	t.Helper()
	id, err := NewEphemeralIdentity()
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cfg: Config{Identity: id}, relay: echo.NewRelay(echo.Config{}), log: slog.New(slog.DiscardHandler),
		links: map[*link]struct{}{}, carrier: map[string]*link{}, dialers: map[string]*dialer{}, echoLinks: map[*echoLink]struct{}{}}
	n.relay.SetNeighbours(n)
	return n
}

// spotOnLiteModel is the far end of an Echo link as Spot-On-Lite behaves (facts of issue 19):
// it closes the link after `silence` without receiving a byte, sends its capabilities every
// silence/2, and drops what arrives in its first `settle`.
type spotOnLiteModel struct {
	c       net.Conn
	silence time.Duration
	settle  time.Duration
	start   time.Time

	mu      sync.Mutex // guards the fields below
	flapped bool       // it closed the link for silence
	gaps    []time.Duration
	last    time.Time
	msgs    [][]byte // data messages received after settling, marker included
	early   int      // data messages that arrived while it was settling (discarded)
	lanes   []int    // lane widths of the capabilities received
}

func (m *spotOnLiteModel) run(stop <-chan struct{}) {
	m.start, m.last = time.Now(), time.Now()
	go func() {
		t := time.NewTicker(m.silence / 2)
		defer t.Stop()
		caps := echo.AppendEchoMessage(nil, echo.EchoTypeCapabilities, echo.EchoCapabilities("{00000000-0000-0000-0000-000000000001}", 8<<20, true))
		for {
			select {
			case <-t.C:
				if _, err := m.c.Write(caps); err != nil {
					return
				}
			case <-stop:
				return
			}
		}
	}()
	sp := echo.EchoSplitter{Max: 1 << 24}
	buf := make([]byte, 64<<10)
	for {
		m.c.SetReadDeadline(time.Now().Add(m.silence))
		k, err := m.c.Read(buf)
		now := time.Now()
		m.mu.Lock()
		if k > 0 {
			m.gaps = append(m.gaps, now.Sub(m.last))
			m.last = now
		}
		m.mu.Unlock()
		sp.Write(buf[:k], func(msg []byte, err error) {
			p, perr := echo.ParseEchoMessage(msg)
			m.mu.Lock()
			defer m.mu.Unlock()
			switch {
			case err != nil || perr != nil:
			case p.Type == echo.EchoTypeCapabilities:
				if _, lane, _, err := echo.ParseEchoCapabilities(p.Content); err == nil {
					m.lanes = append(m.lanes, lane)
				}
			case now.Sub(m.start) < m.settle:
				m.early++
			default:
				m.msgs = append(m.msgs, append(bytes.Clone(msg), echo.EchoMarker...))
			}
		})
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				m.mu.Lock()
				m.flapped = true
				m.mu.Unlock()
			}
			m.c.Close()
			return
		}
	}
}

// Links to Spot-On-Lite nodes with every silence setting stay up for many silence periods in
// both directions, with and without `silence=` on the line; the relay's own gaps stay under the
// neighbour's silence, and a neighbour that goes quiet is dropped after the line's silence.
func TestEchoKeepAliveSilences(t *testing.T) {
	for _, tc := range []struct {
		silence time.Duration // the Spot-On-Lite node's setting
		line    string        // the peers-file options
		maxGap  time.Duration // the longest the relay may stay silent
	}{
		{5 * time.Second, "", DefaultEchoKeepAlive},
		{20 * time.Second, "", DefaultEchoKeepAlive},
		{3600 * time.Second, "", DefaultEchoKeepAlive},
		{5 * time.Second, "silence=5s", 2 * time.Second},
		{20 * time.Second, "silence=20", 8 * time.Second},
		{600 * time.Second, "silence=10m", 240 * time.Second},
		{3600 * time.Second, "silence=3600s", 1440 * time.Second},
	} {
		t.Run(fmt.Sprintf("%s_%s", tc.silence, tc.line), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := ParsePeer(strings.TrimSpace("echo+tcp://192.0.2.1:4710 " + tc.line))
				if err != nil {
					t.Fatal(err)
				}
				n := bareEchoNode(t)
				ours, theirs := net.Pipe()
				m := &spotOnLiteModel{c: theirs, silence: tc.silence, settle: 5 * time.Second}
				stop := make(chan struct{})
				modelDone := make(chan struct{})
				go func() { defer close(modelDone); m.run(stop) }()
				reason := make(chan string, 1)
				go func() { reason <- n.serveEcho(ours, &p) }()

				time.Sleep(10 * tc.silence) // fake time: ten silence periods
				synctest.Wait()
				m.mu.Lock()
				flapped, gaps, lanes := m.flapped, append([]time.Duration(nil), m.gaps...), append([]int(nil), m.lanes...)
				m.mu.Unlock()
				if flapped {
					t.Fatalf("Spot-On-Lite with silence %s closed the link", tc.silence)
				}
				select {
				case r := <-reason:
					t.Fatalf("the relay dropped the link: %s", r)
				default:
				}
				longest := time.Duration(0)
				for _, g := range gaps {
					longest = max(longest, g)
				}
				if longest > tc.maxGap || longest >= tc.silence {
					t.Fatalf("the relay stayed silent for %s (limit %s, the neighbour's silence %s)", longest, tc.maxGap, tc.silence)
				}
				if len(gaps) < 10 {
					t.Fatalf("only %d writes in ten silence periods", len(gaps))
				}
				want := echo.EchoMaxMessage(n.relay.Limits().MaxBlob)
				if len(lanes) == 0 || lanes[0] != want {
					t.Fatalf("lane widths %v, want %d", lanes[:min(len(lanes), 3)], want)
				}

				// The neighbour goes quiet (it stops sending, keeps reading): the relay drops
				// the link after the line's silence, or DefaultEchoIdle without one.
				close(stop)
				quiet := time.Now()
				got := <-reason
				waited := time.Since(quiet)
				idle := DefaultEchoIdle
				if p.Silence > 0 {
					idle = p.Silence
				}
				if got != "timeout" || waited > idle || waited < idle-tc.silence/2 {
					t.Fatalf("after the neighbour went quiet: %q after %s, want timeout after about %s", got, waited, idle)
				}
				<-modelDone
			})
		})
	}
}

// A link holds data back for the line's settle time (Spot-On-Lite discards what arrives in the
// first seconds) and then sends what was flooded meanwhile.
func TestEchoSettleHoldsData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := ParsePeer("echo+tcp://192.0.2.1:4710 half settle=3s")
		if err != nil {
			t.Fatal(err)
		}
		n := bareEchoNode(t)
		ours, theirs := net.Pipe()
		m := &spotOnLiteModel{c: theirs, silence: 20 * time.Second, settle: 3 * time.Second}
		stop := make(chan struct{})
		go m.run(stop)
		go n.serveEcho(ours, &p)
		synctest.Wait()
		var l *echoLink
		n.mu.Lock()
		for x := range n.echoLinks {
			l = x
		}
		n.mu.Unlock()
		env := mustEnvelope(t, []byte("flooded right after connecting"))
		if !l.SendBlob(env) {
			t.Fatal("queue refused")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		m.mu.Lock()
		early, msgs := m.early, len(m.msgs)
		m.mu.Unlock()
		if early != 0 || msgs != 1 {
			t.Fatalf("%d messages while the neighbour settled, %d after; want 0 and 1", early, msgs)
		}
		close(stop)
		l.close()
	})
}

func mustEnvelope(t *testing.T, payload []byte) []byte {
	t.Helper()
	b, err := (&echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
