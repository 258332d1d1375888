package web

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/internal/testutil/relaytest"
	"github.com/echorelay/echorelay/peers"
)

var wasmDir string // the test run's own build of the WebAssembly (buildWasm)

func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m, func() {
		if wasmDir != "" {
			os.RemoveAll(wasmDir)
		}
	})
}

// relay is a real relay in this process (relaytest: SQLite store, QUIC and TCP+TLS on
// 127.0.0.1) with the web handler on its own loopback listener.
type relay struct {
	*relaytest.Relay
	id   *peers.Identity
	node *peers.Node
	web  string // http://127.0.0.1:PORT
}

func (r *relay) addr() string { return r.Addr() }

func startRelay(t *testing.T, wasm, wasmExec []byte) *relay {
	t.Helper()
	rr := relaytest.Start(t)
	h, err := New(Options{Node: rr.Node, RelayPort: rr.Node.Port(), Fingerprint: rr.ID.Fingerprint, Wasm: wasm, WasmExec: wasmExec})
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
	t.Cleanup(func() { // before relaytest's cleanup stops the node and closes the store
		sctx, scancel := context.WithTimeout(context.Background(), testutil.Timeout(5*time.Second))
		defer scancel()
		srv.Shutdown(sctx)
		srv.Close()
		<-served
	})
	return &relay{Relay: rr, id: rr.ID, node: rr.Node, web: "http://" + ln.Addr().String()}
}

// link makes a and b neighbours (both list each other over TCP+TLS with the fingerprint pin)
// and waits until the link is up.
func link(t *testing.T, a, b *relay) {
	t.Helper()
	relaytest.Chain(t, peers.SchemeTLS, a.Relay, b.Relay)
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
