package web

import (
	"io"
	"net/http"
	"testing"
)

// firstLoadBudget is issue #20's bound on what a phone downloads to open the web client the
// first time (compressed, as transferred).
const firstLoadBudget = 3_000_000

// The first load of the client, everything the page and its worker fetch, as a browser that
// takes gzip gets it, stays within firstLoadBudget; the figure is logged.
func TestFirstLoadTransfer(t *testing.T) {
	wasm, exec := buildWasm(t)
	a := startRelay(t, wasm, exec)
	tr := &http.Transport{DisableCompression: true} // count the bytes on the wire, not the inflated ones
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	total := 0
	for _, path := range []string{"/", "/app.css", "/app.js", "/icon.svg", "/relay.json", "/worker.js", "/wasm_exec.js", "/echorelay.wasm"} {
		req, _ := http.NewRequestWithContext(testCtx(t), "GET", a.web+path, nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d, %v", path, resp.StatusCode, err)
		}
		total += int(n)
	}
	t.Logf("first load: %d bytes transferred (module %d bytes before compression); budget %d", total, len(wasm), firstLoadBudget)
	if total > firstLoadBudget {
		t.Fatalf("the first load transfers %d bytes, over the budget of %d", total, firstLoadBudget)
	}
}
