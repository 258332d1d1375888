package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/clientconn"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/internal/web/wsproto"
)

// fakeModule stands in for the WebAssembly in the tests of the handler alone: they check how
// it is served, not what it runs.
var fakeModule = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("module body "), 1000)...)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(30*time.Second))
	t.Cleanup(cancel)
	return ctx
}

// dialWS opens the web client's WebSocket as the browser does and speaks the client protocol
// on it.
func dialWS(t *testing.T, r *relay) *clientconn.Conn {
	t.Helper()
	ctx := testCtx(t)
	ws, _, err := websocket.Dial(ctx, strings.Replace(r.web, "http", "ws", 1)+wsproto.Path,
		&websocket.DialOptions{Subprotocols: []string{wsproto.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	c, err := clientconn.Open(ctx, nc, clientconn.Options{Close: nc.Close})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func envelope(t *testing.T, tag byte, body string) []byte {
	t.Helper()
	e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Tag: [32]byte{tag}, Payload: []byte(body)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A blob submitted over the WebSocket is stored by the relay and flooded to its neighbour,
// where another WebSocket client finds it; a bundle-sized envelope crosses too.
func TestWebSocketClientLink(t *testing.T) {
	a := startRelay(t, fakeModule, []byte("// exec"))
	b := startRelay(t, fakeModule, []byte("// exec"))
	link(t, a, b)
	ca := dialWS(t, a)
	if h := ca.Hello(); h.Role != echo.RoleRelay || h.MaxBlob == 0 {
		t.Fatalf("the relay's HELLO over the WebSocket: %+v", h)
	}
	env := envelope(t, 7, "over the websocket")
	_, dup, err := ca.Put(testCtx(t), env)
	if err != nil || dup {
		t.Fatalf("Put over the WebSocket: dup %v, %v", dup, err)
	}
	cb := dialWS(t, b)
	testutil.Eventually(t, 30*time.Second, "the blob to reach the neighbour", func() bool {
		items, _, _, err := cb.Fetch(testCtx(t), []echo.Tag{{7}}, 0, 0)
		return err == nil && len(items) == 1 && bytes.Equal(items[0].Envelope, env)
	})
	// A large envelope (a McEliece bundle's size) crosses in one piece.
	big := envelope(t, 8, strings.Repeat("k", 1_100_000))
	if _, _, err := ca.Put(testCtx(t), big); err != nil {
		t.Fatalf("Put of %d bytes over the WebSocket: %v", len(big), err)
	}
	items, _, _, err := dialWS(t, a).Fetch(testCtx(t), []echo.Tag{{8}}, 0, 0)
	if err != nil || len(items) != 1 || !bytes.Equal(items[0].Envelope, big) {
		t.Fatalf("Fetch of the large envelope: %d items, %v", len(items), err)
	}
}

// A relay cannot link over the web client's WebSocket: a HELLO with role relay is answered
// with ERROR malformed and the connection closes.
func TestWebSocketRefusesRelayHello(t *testing.T) {
	a := startRelay(t, fakeModule, []byte("// exec"))
	ctx := testCtx(t)
	ws, _, err := websocket.Dial(ctx, strings.Replace(a.web, "http", "ws", 1)+wsproto.Path,
		&websocket.DialOptions{Subprotocols: []string{wsproto.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	defer nc.Close()
	f := echo.Hello{Version: echo.Version, Role: echo.RoleRelay, ListenPort: uint16(a.node.Port())}.Frame()
	if _, err := nc.Write(echo.AppendFrame(nil, f.Type, f.Body)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(nc)
	if len(got) < 5 || echo.FrameType(got[4]) != echo.FrameError {
		t.Fatalf("answer to a relay HELLO: % x (%v)", got, err)
	}
	n := binary.BigEndian.Uint32(got)
	e, perr := echo.ParseErrorFrame(got[5 : 4+n])
	if perr != nil || e.Err.Code != echo.CodeMalformed {
		t.Fatalf("answer to a relay HELLO: %+v, %v", e, perr)
	}
	if n := a.node.Abuse().ClosesByReason["malformed"]; n != 1 {
		t.Fatalf("closes by reason malformed: %d, want 1", n)
	}
}

// Without the echorelay subprotocol, or from another origin, there is no WebSocket.
func TestWebSocketNeedsSubprotocolAndOrigin(t *testing.T) {
	a := startRelay(t, fakeModule, []byte("// exec"))
	url := strings.Replace(a.web, "http", "ws", 1) + wsproto.Path
	ctx := testCtx(t)
	if ws, _, err := websocket.Dial(ctx, url, nil); err == nil {
		_, _, rerr := ws.Read(ctx)
		if websocket.CloseStatus(rerr) != websocket.StatusPolicyViolation {
			t.Fatalf("a WebSocket without the subprotocol: %v", rerr)
		}
		ws.CloseNow()
	}
	hdr := http.Header{"Origin": {"http://elsewhere.example"}}
	if ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{wsproto.Subprotocol}, HTTPHeader: hdr}); err == nil {
		ws.CloseNow()
		t.Fatal("a WebSocket from another origin was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a WebSocket from another origin: %v", err)
	}
}

// Every answer carries the strict CSP; the page names the integrity of its script, style and
// module, and they match what is served; the module goes out gzipped.
func TestPageIntegrityAndHeaders(t *testing.T) {
	a := startRelay(t, fakeModule, []byte("// exec"))
	get := func(path string, hdr http.Header) (*http.Response, []byte) {
		req, _ := http.NewRequestWithContext(testCtx(t), "GET", a.web+path, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Security-Policy") != CSP {
			t.Fatalf("%s: CSP %q", path, resp.Header.Get("Content-Security-Policy"))
		}
		return resp, b
	}
	sri := func(b []byte) string {
		s := sha256.Sum256(b)
		return "sha256-" + base64.StdEncoding.EncodeToString(s[:])
	}
	_, page := get("/", nil)
	for _, asset := range []string{"/app.js", "/app.css"} {
		resp, b := get(asset, nil)
		if resp.StatusCode != 200 || !bytes.Contains(page, []byte(`href="`+asset+`" integrity="`+sri(b)+`"`)) &&
			!bytes.Contains(page, []byte(`src="`+asset+`" integrity="`+sri(b)+`"`)) {
			t.Fatalf("the page does not name %s with integrity %s", asset, sri(b))
		}
	}
	if !bytes.Contains(page, []byte(`content="`+sri(fakeModule)+`"`)) || bytes.Contains(page, []byte("_SRI@")) {
		t.Fatal("the page does not name the module's integrity")
	}
	resp, gz := get("/echorelay.wasm", http.Header{"Accept-Encoding": {"gzip, br"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("module headers: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	if !bytes.Equal(raw, fakeModule) || len(gz) >= len(fakeModule) {
		t.Fatalf("gzipped module: %d bytes for %d, equal %v", len(gz), len(fakeModule), bytes.Equal(raw, fakeModule))
	}
	if _, plain := get("/echorelay.wasm", nil); !bytes.Equal(plain, fakeModule) {
		t.Fatal("the module for a client without gzip differs")
	}
	_, js := get("/relay.json", nil)
	var info RelayInfo
	if err := json.Unmarshal(js, &info); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(fakeModule)
	if info.Relay != a.addr() || info.Fingerprint != a.id.Fingerprint || info.WasmSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("relay.json: %+v", info)
	}
	if resp, _ := get("/nothing-here", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown path: %d", resp.StatusCode)
	}
}

// A binary built without the WebAssembly still serves the page, which says so.
func TestNoWasmBuilt(t *testing.T) {
	if _, err := embeddedWasm(); err == nil {
		t.Skip("this build embeds the WebAssembly")
	} else if !errors.Is(err, ErrNoWasm) {
		t.Fatal(err)
	}
	if _, err := WasmSHA256(); !errors.Is(err, ErrNoWasm) {
		t.Fatalf("WasmSHA256 without a module: %v", err)
	}
	a := startRelay(t, nil, nil) // the embedded build: none
	resp, err := http.Get(a.web + "/echorelay.wasm")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the module of a binary without one: %d", resp.StatusCode)
	}
	resp, err = http.Get(a.web + "/relay.json")
	if err != nil {
		t.Fatal(err)
	}
	var info RelayInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.WasmSHA256 != "" || info.Fingerprint != a.id.Fingerprint {
		t.Fatalf("relay.json of a binary without a module: %+v", info)
	}
}

// The embedded module's sidecar SHA-256 (what the page's integrity and `echorelay version`
// say) is the module's.
func TestEmbeddedWasmSum(t *testing.T) {
	w, err := embeddedWasm()
	if errors.Is(err, ErrNoWasm) {
		t.Skip("this build embeds no WebAssembly (scripts/webwasm not run)")
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := w.open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	hs := sha256.New()
	if _, err := io.Copy(hs, zr); err != nil {
		t.Fatal(err)
	}
	if got := hs.Sum(nil); !bytes.Equal(got, w.sum[:]) {
		t.Fatalf("the sidecar says %x, the module is %x: rerun scripts/webwasm", w.sum, got)
	}
}
