package web

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

var wasmDir string // the test run's own build of the WebAssembly (buildWasm)

func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m, func() {
		if wasmDir != "" {
			os.RemoveAll(wasmDir)
		}
	})
}

// relay is a real relay in this process (SQLite store, QUIC and TCP+TLS on 127.0.0.1) with
// the web handler on its own loopback listener.
type relay struct {
	t    *testing.T
	id   *peers.Identity
	node *peers.Node
	web  string // http://127.0.0.1:PORT
	stop func()
}

func (r *relay) addr() string { return "127.0.0.1:" + strconv.Itoa(r.node.Port()) }

func startRelay(t *testing.T, wasm, wasmExec []byte) *relay {
	t.Helper()
	dir := t.TempDir()
	id, err := peers.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "cache.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := peers.New(peers.Config{Identity: id, Relay: echo.NewRelay(echo.Config{Store: relaystore.New(st)}),
		Listen: "127.0.0.1:0"})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	h, err := New(Options{Node: n, RelayPort: n.Port(), Fingerprint: id.Fingerprint, Wasm: wasm, WasmExec: wasmExec})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: testutil.Timeout(10 * time.Second)}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	r := &relay{t: t, id: id, node: n, web: "http://" + ln.Addr().String()}
	r.stop = func() {
		cancel()
		n.Close()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), testutil.Timeout(5*time.Second))
		defer scancel()
		srv.Shutdown(sctx)
		srv.Close()
		<-served
		st.Close()
	}
	t.Cleanup(r.stop)
	return r
}

// link makes a and b neighbours (both list each other with the fingerprint pin) and waits
// until the link is up.
func link(t *testing.T, a, b *relay) {
	t.Helper()
	line := func(r *relay) []peers.Peer {
		ps, err := peers.ParsePeers(strings.NewReader("tls://" + r.addr() + " " + r.id.Fingerprint + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	a.node.SetPeers(line(b))
	b.node.SetPeers(line(a))
	testutil.Eventually(t, 30*time.Second, "the two relays to link", func() bool {
		return len(a.node.FloodLinks()) == 1 && len(b.node.FloodLinks()) == 1
	})
}

var (
	wasmOnce          sync.Once
	wasmBin, wasmExec []byte
	wasmErr           error
)

// buildWasm builds internal/web/wasm for js/wasm once per test run, the way scripts/webwasm
// does, and returns the module and the toolchain's wasm_exec.js.
func buildWasm(t *testing.T) ([]byte, []byte) {
	t.Helper()
	wasmOnce.Do(func() {
		wasmDir, wasmErr = os.MkdirTemp("", "echorelay-wasm-")
		if wasmErr != nil {
			return
		}
		out := filepath.Join(wasmDir, "echorelay.wasm")
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./wasm")
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			wasmErr = &buildError{err, string(b)}
			return
		}
		if wasmBin, wasmErr = os.ReadFile(out); wasmErr != nil {
			return
		}
		root, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			wasmErr = err
			return
		}
		wasmExec, wasmErr = os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), "lib", "wasm", "wasm_exec.js"))
	})
	if wasmErr != nil {
		t.Fatalf("failed to build the WebAssembly: %v", wasmErr)
	}
	return wasmBin, wasmExec
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
