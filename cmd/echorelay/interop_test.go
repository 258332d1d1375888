package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
)

// A fake Echo neighbour, written from the published facts of the Echo link format (frames are
// built by hand here, not with the relay's own encoder), talks to real relay processes.

func echoFrame(body string, contentLength int) []byte {
	if contentLength < 0 {
		contentLength = len(body)
	}
	return []byte(fmt.Sprintf("POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", contentLength, body))
}

func echoData(content []byte) []byte {
	return echoFrame("content="+base64.StdEncoding.EncodeToString(content)+"\r\n\r\n\r\n", -1)
}

// fakeEcho reads an Echo stream and collects what it receives.
type fakeEcho struct {
	c    net.Conn
	mu   sync.Mutex
	data [][]byte
	ctrl []string
	bad  []string
	ch   chan struct{}
}

func newFakeEcho(c net.Conn) *fakeEcho {
	f := &fakeEcho{c: c, ch: make(chan struct{}, 1024)}
	go f.read()
	return f
}

func (f *fakeEcho) read() {
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := f.c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			i := bytes.Index(buf, []byte("\r\n\r\n\r\n"))
			if i < 0 {
				break
			}
			f.parse(buf[:i+6])
			buf = buf[i+6:]
		}
		if err != nil {
			return
		}
	}
}

// parse checks a frame strictly as Spot-On would (Content-Length must be exact).
func (f *fakeEcho) parse(frame []byte) {
	f.mu.Lock()
	defer func() { f.mu.Unlock(); f.ch <- struct{}{} }()
	head, body, ok := strings.Cut(string(frame), "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "POST HTTP/1.1\r\n") {
		f.bad = append(f.bad, "bad head")
		return
	}
	cl := -1
	for _, l := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(l, "Content-Length: "); ok {
			cl, _ = strconv.Atoi(v)
		}
	}
	if cl != len(body) {
		f.bad = append(f.bad, fmt.Sprintf("Content-Length %d, body %d", cl, len(body)))
		return
	}
	body = strings.TrimSuffix(body, "\r\n\r\n\r\n")
	if t, rest, ok := strings.Cut(body, "&"); ok && strings.HasPrefix(t, "type=") {
		f.ctrl = append(f.ctrl, strings.TrimPrefix(t, "type="))
		_ = rest
		return
	}
	c, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(body, "content="))
	if err != nil {
		f.bad = append(f.bad, "bad base64")
		return
	}
	f.data = append(f.data, c)
}

func (f *fakeEcho) waitData(t *testing.T, want []byte) {
	t.Helper()
	deadline := time.After(testutil.Timeout(20 * time.Second))
	for {
		f.mu.Lock()
		for _, d := range f.data {
			if bytes.Equal(d, want) {
				f.mu.Unlock()
				return
			}
		}
		f.mu.Unlock()
		select {
		case <-f.ch:
		case <-deadline:
			t.Fatalf("Echo neighbour did not receive %q", want[:min(len(want), 16)])
		}
	}
}

func (f *fakeEcho) waitControl(t *testing.T, typ string) {
	t.Helper()
	deadline := time.After(testutil.Timeout(20 * time.Second))
	for {
		f.mu.Lock()
		for _, c := range f.ctrl {
			if c == typ {
				f.mu.Unlock()
				return
			}
		}
		f.mu.Unlock()
		select {
		case <-f.ch:
		case <-deadline:
			t.Fatalf("Echo neighbour got no %s control message", typ)
		}
	}
}

func echoRelayPair(t *testing.T) (r, q *relayProc) {
	r = startRelay(t, "R", "--echo-listen", "127.0.0.1:0")
	q = startRelay(t, "Q")
	r.setPeers(q)
	q.setPeers(r)
	r.waitNeighbours(1)
	q.waitNeighbours(1)
	if r.echo == "" {
		t.Fatal("relay reported no Echo listener")
	}
	return r, q
}

func payloadOf(t *testing.T, it echo.Item) []byte {
	e, err := echo.ParseEnvelope(it.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	return e.Payload
}

// Echo → echorelay: data messages (fragmented, batched, with Smoke's ETag line, with a wrong
// Content-Length) cross byte-identical to a QUIC neighbour; control messages and an oversized
// frame never appear as data.
func TestEchoToRelay(t *testing.T) {
	t.Parallel()
	r, q := echoRelayPair(t)
	atQ := q.subscribe()
	c, err := net.Dial("tcp", r.echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fe := newFakeEcho(c)

	contents := make([][]byte, 4)
	for i := range contents {
		contents[i] = make([]byte, 200+i*1000)
		rand.Read(contents[i])
	}
	caps := echoFrame("type=0014&content="+base64.StdEncoding.EncodeToString([]byte("{11111111-2222-3333-4444-555555555555}\n20000\nfull"))+"\r\n\r\n\r\n", -1)
	ident := echoFrame("type=0095a&content="+base64.StdEncoding.EncodeToString(make([]byte, 64))+";sha-512\r\n\r\n\r\n", -1)
	etag := echoFrame("ETag: 0123456789abcdef0123456789abcdef\r\n\r\ncontent="+base64.StdEncoding.EncodeToString(contents[2])+"\r\n\r\n\r\n", -1)
	wrongLen := echoFrame("content="+base64.StdEncoding.EncodeToString(contents[3])+"\r\n\r\n\r\n", 7)
	oversized := echoFrame("content="+strings.Repeat("QUFB", 1<<20), -1) // 4 MiB, no marker yet

	// Fragmented: the first message byte by byte.
	for _, b := range echoData(contents[0]) {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	// Several frames in one write, control frames among them.
	batch := append(append(append(caps, echoData(contents[1])...), ident...), etag...)
	c.Write(batch)
	c.Write(wrongLen)
	c.Write(oversized)
	c.Write([]byte("\r\n\r\n\r\n"))
	final := []byte("after the oversized frame")
	c.Write(echoData(final))

	// A message in the canonical form travels as its decoded content; the others (the ETag
	// line, the wrong Content-Length) travel whole, so that they leave for Echo byte-identical.
	whole := func(frame []byte) []byte {
		return append([]byte(echo.EchoRawPrefix), bytes.TrimSuffix(frame, echo.EchoMarker)...)
	}
	want := [][]byte{contents[0], contents[1], whole(etag), whole(wrongLen), final}
	got := map[string]bool{}
	deadline := time.After(testutil.Timeout(20 * time.Second))
	for len(got) < len(want) {
		select {
		case it := <-atQ:
			got[string(payloadOf(t, it))] = true
		case <-deadline:
			t.Fatalf("only %d of %d Echo messages reached the QUIC neighbour", len(got), len(want))
		}
	}
	for i, w := range want {
		if !got[string(w)] {
			t.Fatalf("message %d did not arrive byte-identical", i)
		}
	}
	// The relay answers with its own capabilities keep-alive.
	fe.waitControl(t, "0014")
	s := r.status()
	if s.Stored != int64(len(want)) {
		t.Fatalf("R stored %d blobs, want %d (control or oversized frames leaked as data?)", s.Stored, len(want))
	}
	var st struct {
		Echo map[string]int64 `json:"echo"`
	}
	r.statusInto(&st)
	if st.Echo["control_in"] != 2 || st.Echo["oversized"] != 1 || st.Echo["length_mismatch"] != 1 {
		t.Fatalf("echo counters %v", st.Echo)
	}
	// Nothing of ours came back to the Echo neighbour as data: it only sent.
	fe.mu.Lock()
	n, bad := len(fe.data), fe.bad
	fe.mu.Unlock()
	if n != 0 || len(bad) != 0 {
		t.Fatalf("Echo neighbour got %d data messages back, bad frames %v", n, bad)
	}
}

// echorelay → Echo: a blob put at the QUIC neighbour reaches the Echo neighbour as a data message
// with an exact Content-Length; sent back by the Echo side, it is recognised and not flooded again.
func TestRelayToEchoNoLoop(t *testing.T) {
	t.Parallel()
	r, q := echoRelayPair(t)
	c, err := net.Dial("tcp", r.echo)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fe := newFakeEcho(c)
	r.waitFor("the Echo link", func(s statusDoc) bool { return s.NeighboursUp == 2 })

	payload := make([]byte, 3000)
	rand.Read(payload)
	if _, _, err := q.client().Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, payload)); err != nil {
		t.Fatal(err)
	}
	fe.waitData(t, payload)
	// The Echo network floods it back: no new blob anywhere.
	c.Write(echoData(payload))
	marker := []byte("marker after the echo")
	atQ := q.subscribe()
	c.Write(echoData(marker))
	deadline := time.After(testutil.Timeout(20 * time.Second))
	for done := false; !done; {
		select {
		case it := <-atQ:
			done = bytes.Equal(payloadOf(t, it), marker)
		case <-deadline:
			t.Fatal("the marker sent after the echo did not arrive")
		}
	}
	if s := q.status(); s.Stored != 2 {
		t.Fatalf("Q stored %d blobs, want 2: the echoed blob looped back", s.Stored)
	}
	fe.mu.Lock()
	defer fe.mu.Unlock()
	if len(fe.bad) != 0 {
		t.Fatalf("relay sent frames a strict Echo node drops: %v", fe.bad)
	}
}

// The relay dials an Echo neighbour from its peers file; a Half Echo link gets only the relay's
// own clients' blobs; a broken Echo neighbour does not disturb the QUIC neighbour. Not
// parallel: it measures latency.
func TestEchoDialHalfAndBrokenNeighbour(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := startRelay(t, "R", "--echo-listen", "127.0.0.1:0")
	q := startRelay(t, "Q")
	var pf strings.Builder
	fmt.Fprintf(&pf, "%s %s\necho+tcp://%s half   # a Spot-On node\n", q.addr(), q.fp, ln.Addr())
	os.WriteFile(filepath.Join(r.dir, "peers"), []byte(pf.String()), 0o644)
	r.cmd.Process.Signal(hupSignal)
	q.setPeers(r)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fe := newFakeEcho(c)
	r.waitNeighbours(2)
	q.waitNeighbours(1)

	fromQ := []byte("from Q's client: not for a half link")
	if _, _, err := q.client().Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, fromQ)); err != nil {
		t.Fatal(err)
	}
	fromR := []byte("from R's own client")
	if _, _, err := r.client().Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, fromR)); err != nil {
		t.Fatal(err)
	}
	fe.waitData(t, fromR)
	fe.mu.Lock()
	for _, d := range fe.data {
		if bytes.Equal(d, fromQ) {
			t.Error("a neighbour's blob went out on a Half Echo link")
		}
	}
	fe.mu.Unlock()

	// A broken Echo neighbour: garbage and an endless frame on the listener.
	bad, err := net.Dial("tcp", r.echo)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.Write([]byte("GET / HTTP/1.0\r\n\r\n\r\n\r\n\x00\x01garbage\r\n\r\n\r\n"))
	go func() {
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for i := 0; i < 64; i++ {
			if _, err := bad.Write(chunk); err != nil {
				return
			}
		}
	}()
	atQ := q.subscribe()
	for i := 0; i < 20; i++ {
		start := time.Now()
		env := mkEnvelope(t, echo.Tag{}, time.Hour, []byte(fmt.Sprint("during the attack ", i)))
		if _, _, err := r.client().Put(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		waitItem(t, atQ, echo.BlobID(env))
		if d := time.Since(start); d > testutil.Timeout(2*time.Second) {
			t.Fatalf("put at R to arrival at Q took %s during the attack", d)
		}
	}
	var st struct {
		Echo map[string]int64 `json:"echo"`
	}
	r.statusInto(&st)
	if st.Echo["malformed"] < 1 {
		t.Fatalf("garbage not counted: %v", st.Echo)
	}
}
