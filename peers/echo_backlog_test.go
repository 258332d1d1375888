package peers

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
)

// What reaches the relay while its Echo neighbour is down is sent after the neighbour is back,
// from the persisted position: after the neighbour's restart, and after the relay's own restart.
func TestEchoBacklog(t *testing.T) {
	t.Parallel()
	peer := newEchoTestPeer(t, 8<<20)
	r, line := startEchoLine(t, Config{}, "echo+tcp://"+peer.addr+" settle=100ms")
	r.waitLine(t, line, true)
	a := r.put(t, []byte("while the neighbour is up"))
	peer.wait(t, "the live blob", a)

	// The Echo node stops; blobs arrive meanwhile, one of them a Spot-On multi-group message a
	// client carried whole.
	peer.down()
	r.waitLine(t, line, false)
	var missed [][]byte
	for i := range 5 {
		missed = append(missed, r.put(t, []byte(fmt.Sprint("while the neighbour is down ", i))))
	}
	multi := []byte("POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\ncontent=aGk=\nYWI=\nYQ")
	missed = append(missed, r.put(t, append([]byte(echo.EchoRawPrefix), multi...)))
	if !bytes.Equal(missed[5], append(multi, echo.EchoMarker...)) {
		t.Fatalf("a carried message goes out as %q", missed[5])
	}
	peer.up(peer.addr)
	r.SetPeers([]Peer{line}) // retry now
	peer.wait(t, "the blobs that arrived while the neighbour was down", missed...)
	if n := r.echo.BacklogOut.Load(); n < int64(len(missed)) {
		t.Fatalf("backlog_out %d, want at least %d", n, len(missed))
	}
	for i, m := range missed {
		if c := peer.count(m); c != 1 {
			t.Fatalf("missed blob %d arrived %d times", i, c)
		}
	}

	// The neighbour goes down again, a blob arrives, the relay restarts, the neighbour comes
	// back: the position survived in the data dir.
	peer.down()
	r.waitLine(t, line, false)
	late := r.put(t, []byte("before the relay restarts"))
	r.halt()
	files, _ := filepath.Glob(filepath.Join(r.dir, "echo-position-*"))
	if len(files) != 1 {
		t.Fatalf("position files %v", files)
	}
	r2 := startEchoNode(t, r.dir, r.st, Config{})
	peer.up(peer.addr)
	r2.SetPeers([]Peer{line})
	peer.wait(t, "the blob stored before the relay restarted", late)
	// The live blob may come twice (the position lags the last second of a link, and a blob
	// written just before a link broke is sent again); it never comes more often.
	if c := peer.count(a); c < 1 || c > 2 {
		t.Fatalf("the live blob was sent %d times", c)
	}
}

// Everything an Echo node sends (testdata/echo: multi-group, unpadded, header-less, Smoke's
// ETag, typed, percent-encoded, wrong lengths) reaches another Echo node byte-identical;
// link-local and malformed messages do not (control_in counts 3 of A and the capabilities of B);
// a blob wider than the neighbour's lane is not sent.
func TestEchoBridgeByteIdentical(t *testing.T) {
	t.Parallel()
	b := newEchoTestPeer(t, 64<<10)
	r, line := startEchoLine(t, Config{EchoListen: "echo+tcp://127.0.0.1:0"}, "echo+tcp://"+b.addr+" settle=100ms")
	r.waitLine(t, line, true)

	files, err := filepath.Glob(filepath.Join("..", "echo", "testdata", "echo", "*.msg"))
	if err != nil || len(files) < 10 {
		t.Fatalf("vectors: %v %v", files, err)
	}
	var data [][]byte
	var stream []byte
	others := 0
	for _, f := range files {
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, msg...)
		m, err := echo.ParseEchoMessage(bytes.TrimSuffix(msg, echo.EchoMarker))
		if err == nil && !echo.EchoLinkLocal(m.Type) {
			data = append(data, msg)
		} else {
			others++
		}
	}
	if len(data) < 8 || others < 3 {
		t.Fatalf("%d data and %d other vectors", len(data), others)
	}
	a, err := net.Dial("tcp", r.EchoAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for len(stream) > 0 { // in odd pieces
		k := min(len(stream), 977)
		if _, err := a.Write(stream[:k]); err != nil {
			t.Fatal(err)
		}
		stream = stream[k:]
	}
	b.wait(t, "every data message at the other Echo node", data...)
	wide := r.put(t, bytes.Repeat([]byte("w"), 64<<10)) // Base64 of 64 KiB exceeds B's lane
	after := r.put(t, []byte("after the wide one"))
	b.wait(t, "the blob after the wide one", after)
	if b.count(wide) != 0 || r.echo.TooWide.Load() != 1 {
		t.Fatalf("a blob wider than the lane: sent %d times, too_wide %d", b.count(wide), r.echo.TooWide.Load())
	}
	b.mu.Lock()
	got := len(b.data)
	b.mu.Unlock()
	if got != len(data)+1 {
		t.Fatalf("B received %d data messages, want %d: a link-local or malformed message leaked", got, len(data)+1)
	}
	c := r.EchoCounters()
	if c["malformed"] != 2 || c["control_in"] != 4 || c["headerless"] != 1 || c["typed_data"] != 1 || c["data_in"] != int64(len(data)) {
		t.Fatalf("counters %v", c)
	}
}

// A flood dropped on a full queue is not lost: once the queue drains, the link catches up from
// the store. The Echo node stops reading while more than a queue's worth of blobs arrive.
func TestEchoDropsRepaired(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r, line := startEchoLine(t, Config{}, "echo+tcp://"+ln.Addr().String()+" settle=100ms")
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r.waitLine(t, line, true)

	// Blobs of 64 KiB from 8 clients at once until floods are dropped: more than the queue
	// (QueueBytes) and the socket buffers hold; at most 1000 (64 MiB).
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(60*time.Second))
	defer cancel()
	var mu sync.Mutex
	want := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := DialClient(ctx, "quic://127.0.0.1:"+itoa(r.Port()))
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			after := 0 // puts after the first drop
			for i := w; i < 1000 && after < 5; i += 8 {
				p := append([]byte(fmt.Sprintf("%05d ", i)), bytes.Repeat([]byte{'d'}, 64<<10)...)
				env, err := (&echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Payload: p}).Marshal()
				if err == nil {
					_, _, err = cl.Put(ctx, env)
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[string(echo.AppendEchoPayload(nil, p))] = true
				mu.Unlock()
				if r.echo.QueueDrops.Load() > 0 {
					after++
				}
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	t.Logf("%d puts in %s, %d floods dropped", len(want), time.Since(start), r.echo.QueueDrops.Load())
	if t.Failed() {
		return
	}
	if r.echo.QueueDrops.Load() == 0 {
		t.Fatalf("no flood was dropped: the test did not fill the queue")
	}
	// The Echo node reads again; every blob arrives.
	got := map[string]bool{}
	sp := echo.EchoSplitter{Max: 1 << 24}
	buf := make([]byte, 256<<10)
	deadline := time.Now().Add(testutil.Timeout(60 * time.Second))
	for len(got) < len(want) && time.Now().Before(deadline) {
		c.SetReadDeadline(deadline)
		k, err := c.Read(buf)
		sp.Write(buf[:k], func(msg []byte, err error) {
			if m, perr := echo.ParseEchoMessage(msg); err == nil && perr == nil && !echo.EchoLinkLocal(m.Type) {
				w := string(append(bytes.Clone(msg), echo.EchoMarker...))
				if want[w] {
					got[w] = true
				}
			}
		})
		if err != nil {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d of %d blobs reached the Echo node after %d dropped floods", len(got), len(want), r.echo.QueueDrops.Load())
	}
	if r.echo.BacklogOut.Load() == 0 {
		t.Fatal("no catch-up sent the dropped floods")
	}
}
