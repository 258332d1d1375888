package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// --pprof takes only a loopback address; anything else is a user mistake with a hint.
func TestPprofFlagRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", "192.0.2.1:6060", "localhost6060", "example.org:6060"} {
		_, errOut, code := runCLI(t, nil, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "off", "--pprof", addr)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code == 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "echorelay: --pprof") || !strings.HasPrefix(lines[1], "hint: ") {
			t.Errorf("--pprof %s: exit %d, stderr %q; want one error line about --pprof and one hint line", addr, code, errOut)
		}
	}
}

// With --pprof on loopback the real relay serves Go's profiles there.
func TestPprofServesProfiles(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	startRelay(t, "P", "--pprof", addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	n, _ := resp.Body.Read(buf)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(buf[:n]), "goroutine profile:") {
		t.Fatalf("status %d, body %q", resp.StatusCode, buf[:min(n, 200)])
	}
}
