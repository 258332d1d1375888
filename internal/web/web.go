// Package web is the relay's web client: the page, its styles and scripts, the WebAssembly
// build of package client (internal/web/wasm), all embedded in the binary, and the WebSocket
// endpoint that turns a browser's connection into a client link of the relay (peers.Node's
// ServeClientConn, with every limit a QUIC or TCP+TLS client has).
//
// Who calls it: the serve command wires Handler on its --web listener (plain http on a LAN,
// or https), and `echorelay version` prints WasmSHA256. Tests start it on loopback beside a
// real peers.Node.
//
// What it deliberately does not do: see a key or a message in clear. The page runs the
// client in a Web Worker; the relay serves bytes and carries frames. No CDN, no third-party
// asset, no inline script: every response carries a strict Content-Security-Policy, the
// page loads its script with Subresource Integrity and the worker fetches the WebAssembly
// with the SHA-256 the page names (the same one `echorelay version` prints). Over plain http
// somebody on the LAN could still replace all of it; the page says so.
//
// The WebAssembly is not in the repository: scripts/webwasm builds it reproducibly into
// assets/gen/ (git-ignored) before the Go build embeds it; a binary built without it serves
// a page that says how to build it.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/echorelay/echorelay/internal/web/wsproto"
)

//go:embed assets
var assets embed.FS

// Generated files (scripts/webwasm): the gzipped WebAssembly and the Go toolchain's
// wasm_exec.js it needs.
const (
	genWasmGz   = "assets/gen/echorelay.wasm.gz"
	genWasmSum  = "assets/gen/echorelay.wasm.sha256" // hex SHA-256 of the module before gzip
	genWasmExec = "assets/gen/wasm_exec.js"
)

// ErrNoWasm: this binary was built without the web client's WebAssembly.
var ErrNoWasm = errors.New("the web client's WebAssembly is not built into this binary (run scripts/webwasm, then build)")

// ClientServer runs one connection as a client link: *peers.Node.
type ClientServer interface {
	ServeClientConn(conn net.Conn, remote net.Addr) error
}

// Options configure a Handler.
type Options struct {
	Node        ClientServer // required
	RelayPort   int          // the relay's client port: the page's invites name host:RelayPort
	Fingerprint string       // the relay's node key fingerprint (hex), shown in the page
	// WebFingerprint is the SHA-256 of the https certificate's public key (hex), shown in the
	// page to compare with the browser's certificate viewer; "" over plain http.
	WebFingerprint string
	Logger         *slog.Logger // nil discards; never gets a client address
	// Wasm and WasmExec replace the embedded build (tests build their own).
	Wasm, WasmExec []byte
}

// Handler serves the web client.
type Handler struct {
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
	wasm  wasmFiles
	index []byte
}

// wasmFiles is the module as served. The embedded one is read from the binary's read-only
// data on each request (open), never copied to the heap: an idle relay keeps it out of its
// RSS; its SHA-256 comes from the sidecar scripts/webwasm writes (TestEmbeddedWasmSum checks
// it against the module).
type wasmFiles struct {
	open func() (io.ReadCloser, error) // the gzipped module
	size int64                         // its gzipped length
	sum  [32]byte                      // SHA-256 of the module itself
	exec []byte
}

func (w wasmFiles) present() bool { return w.open != nil }

// New returns the Handler for opts.
func New(opts Options) (*Handler, error) {
	if opts.Node == nil {
		return nil, errors.New("web: Options.Node is required")
	}
	h := &Handler{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if opts.Wasm != nil {
		h.wasm, err = wasmFromRaw(opts.Wasm, opts.WasmExec)
	} else {
		h.wasm, err = embeddedWasm()
	}
	if err != nil && !errors.Is(err, ErrNoWasm) {
		return nil, err
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	if err := h.buildIndex(static); err != nil {
		return nil, err
	}
	for _, name := range []string{"app.js", "app.css", "worker.js", "icon.svg"} {
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return nil, fmt.Errorf("web: missing asset %s: %w", name, err)
		}
		h.mux.Handle("GET /"+name, staticFile(name, b))
	}
	h.mux.HandleFunc("GET /{$}", h.serveIndex)
	h.mux.HandleFunc("GET /relay.json", h.serveRelayInfo)
	h.mux.HandleFunc("GET /echorelay.wasm", h.serveWasm)
	h.mux.HandleFunc("GET /wasm_exec.js", h.serveWasmExec)
	h.mux.HandleFunc("GET "+wsproto.Path, h.serveWS)
	return h, nil
}

// ServeHTTP implements http.Handler: every answer carries the security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// CSP is the Content-Security-Policy of every response: scripts, styles, workers and
// connections from this origin only (the WebSocket included), WebAssembly allowed to compile,
// images from this origin and from the page's own blob: URLs (received photos, the QR code),
// nothing inline, no frames, no forms posted anywhere.
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; " +
	"img-src 'self' blob:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// WasmSHA256 is the hex SHA-256 of the WebAssembly module this binary serves (ErrNoWasm when
// it has none): compare it with a reproducible build of the same source.
func WasmSHA256() (string, error) {
	w, err := embeddedWasm()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(w.sum[:]), nil
}

var (
	embedOnce sync.Once
	embedWasm wasmFiles
	embedErr  error
)

func embeddedWasm() (wasmFiles, error) {
	embedOnce.Do(func() {
		st, err := fs.Stat(assets, genWasmGz)
		if err != nil {
			embedErr = ErrNoWasm
			return
		}
		exec, err := assets.ReadFile(genWasmExec)
		if err != nil {
			embedErr = fmt.Errorf("%w: %s is missing", ErrNoWasm, genWasmExec)
			return
		}
		sumHex, err := assets.ReadFile(genWasmSum)
		var sum []byte
		if err == nil {
			sum, err = hex.DecodeString(strings.TrimSpace(string(sumHex)))
		}
		if err != nil || len(sum) != sha256.Size {
			embedErr = fmt.Errorf("%w: %s is missing or not a SHA-256", ErrNoWasm, genWasmSum)
			return
		}
		embedWasm = wasmFiles{open: func() (io.ReadCloser, error) { return assets.Open(genWasmGz) }, size: st.Size(), exec: exec}
		copy(embedWasm.sum[:], sum)
	})
	return embedWasm, embedErr
}

func wasmFromRaw(raw, exec []byte) (wasmFiles, error) {
	if exec == nil {
		return wasmFiles{}, errors.New("web: Options.Wasm needs Options.WasmExec")
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return wasmFiles{}, err
	}
	gz := buf.Bytes()
	return wasmFiles{open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz)), nil },
		size: int64(len(gz)), sum: sha256.Sum256(raw), exec: exec}, nil
}

func sri(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(s[:])
}

// buildIndex fills index.html's placeholders: the integrity of app.js and app.css, and the
// module's SHA-256 (the worker fetches it with that integrity).
func (h *Handler) buildIndex(static fs.FS) error {
	page, err := fs.ReadFile(static, "index.html")
	if err != nil {
		return err
	}
	appJS, err := fs.ReadFile(static, "app.js")
	if err != nil {
		return err
	}
	appCSS, err := fs.ReadFile(static, "app.css")
	if err != nil {
		return err
	}
	wasmSRI, wasmHex := "", ""
	if h.wasm.present() {
		wasmSRI = "sha256-" + base64.StdEncoding.EncodeToString(h.wasm.sum[:])
		wasmHex = hex.EncodeToString(h.wasm.sum[:])
	}
	s := strings.NewReplacer("@APP_JS_SRI@", sri(appJS), "@APP_CSS_SRI@", sri(appCSS),
		"@WASM_SRI@", wasmSRI, "@WASM_SHA256@", wasmHex).Replace(string(page))
	h.index = []byte(s)
	return nil
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(h.index)
}

func staticFile(name string, b []byte) http.Handler {
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".svg"):
		ct = "image/svg+xml"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}

// RelayInfo is /relay.json: what the page needs to know about the relay that served it.
type RelayInfo struct {
	Relay       string `json:"relay"`       // the client address invites carry: the page's host, the relay's port
	Fingerprint string `json:"fingerprint"` // the relay's node key, as `echorelay fingerprint` prints it
	WS          string `json:"ws"`          // the WebSocket path
	WasmSHA256  string `json:"wasm_sha256"` // "" when the binary has no web client
	// WebFingerprint is the https certificate's public-key SHA-256, "" over plain http.
	WebFingerprint string `json:"web_fingerprint"`
}

func (h *Handler) serveRelayInfo(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if hh, _, err := net.SplitHostPort(r.Host); err == nil {
		host = hh
	}
	info := RelayInfo{Relay: net.JoinHostPort(host, strconv.Itoa(h.opts.RelayPort)), Fingerprint: h.opts.Fingerprint, WS: wsproto.Path,
		WebFingerprint: h.opts.WebFingerprint}
	if h.wasm.present() {
		info.WasmSHA256 = hex.EncodeToString(h.wasm.sum[:])
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(info)
}

// serveWasm sends the precompressed module to a browser that takes gzip (every current one)
// and inflates it for anything else.
func (h *Handler) serveWasm(w http.ResponseWriter, r *http.Request) {
	if !h.wasm.present() {
		http.Error(w, ErrNoWasm.Error(), http.StatusNotFound)
		return
	}
	f, err := h.wasm.open()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", `"`+hex.EncodeToString(h.wasm.sum[:16])+`"`)
	w.Header().Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.FormatInt(h.wasm.size, 10))
		io.Copy(w, f)
		return
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	io.Copy(w, zr)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

func (h *Handler) serveWasmExec(w http.ResponseWriter, r *http.Request) {
	if h.wasm.exec == nil {
		http.Error(w, ErrNoWasm.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(h.wasm.exec)
}

// serveWS accepts the WebSocket (same origin only, the echorelay subprotocol required) and
// runs it as a client link until it ends.
func (h *Handler) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsproto.Subprotocol}})
	if err != nil {
		return // Accept answered the request with the reason
	}
	if c.Subprotocol() != wsproto.Subprotocol {
		c.Close(websocket.StatusPolicyViolation, "the "+wsproto.Subprotocol+" subprotocol is required")
		return
	}
	remote := remoteAddr(r.RemoteAddr)
	nc := websocket.NetConn(r.Context(), c, websocket.MessageBinary)
	h.opts.Node.ServeClientConn(nc, remote) // refusals are counted by the node, never logged with the address
}

func remoteAddr(s string) net.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}
