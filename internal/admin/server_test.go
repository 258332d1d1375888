package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
)

// serveTest serves the admin listener with testReport's status on a loopback port.
func serveTest(t *testing.T, token string) string {
	t.Helper()
	st := testReport(t)
	s, err := Listen("127.0.0.1:0", Config{Status: func() Status { return st }, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr().String()
}

// exchange sends req on a fresh connection and reads the answer until the server closes.
func exchange(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testutil.Timeout(10 * time.Second)))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%.40q: %v", req, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// The request head may be MaxHead bytes, not one more: net/http's slop beyond MaxHeaderBytes
// is what netHTTPSlop says (a Go release that changes it fails here).
func TestHeadLimit(t *testing.T) {
	t.Parallel()
	addr := serveTest(t, "")
	fit := "GET /status HTTP/1.1\r\nHost: localhost\r\nX-Big: \r\n\r\n"
	fit = strings.Replace(fit, "X-Big: ", "X-Big: "+strings.Repeat("a", MaxHead-len(fit)), 1)
	if resp, _ := exchange(t, addr, fit); len(fit) != MaxHead || resp.StatusCode != 200 {
		t.Errorf("a %d-byte head: %d, want 200", len(fit), resp.StatusCode)
	}
	over := strings.Replace(fit, "X-Big: ", "X-Big: a", 1)
	if resp, _ := exchange(t, addr, over); resp.StatusCode != 431 {
		t.Errorf("a %d-byte head: %d, want 431", len(over), resp.StatusCode)
	}
}

// Without a token only loopback hosts are answered (421 otherwise); with one, every request
// needs it. /status is the Status as JSON, /metrics its exposition, HEAD has no body.
func TestServerRules(t *testing.T) {
	t.Parallel()
	addr := serveTest(t, "")
	for host, want := range map[string]int{"localhost": 200, "127.0.0.1:7789": 200, "[::1]:7789": 200, "LocalHost": 200,
		"attacker.example": 421, "127.0.0.1.attacker.example": 421, "192.0.2.1": 421} {
		resp, body := exchange(t, addr, "GET /status HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		if resp.StatusCode != want || (want == 421 && strings.Contains(body, "school relay")) {
			t.Errorf("Host %s: %d %.80q, want %d", host, resp.StatusCode, body, want)
		}
	}
	resp, body := exchange(t, addr, "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Name != "school relay" || st.Abuse.RefusedPerIP != 3 || resp.Header.Get("Content-Type") != "application/json" || !resp.Close {
		t.Errorf("/status: %v %+v %v", err, st, resp.Header)
	}
	if resp, body := exchange(t, addr, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"); resp.Header.Get("Content-Type") != MetricsContentType || !strings.Contains(body, "echorelay_blobs_received_total 120\n") {
		t.Errorf("/metrics: %v %.200q", resp.Header, body)
	}
	if resp, body := exchange(t, addr, "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n"); resp.StatusCode != 200 || body != "" || resp.ContentLength <= 0 || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("HEAD /: %d %v %q", resp.StatusCode, resp.Header, body)
	}

	const tok = "0123456789abcdef-token"
	lan := serveTest(t, tok)
	for req, want := range map[string]int{
		"GET /status HTTP/1.1\r\nHost: relay.lan\r\n\r\n":                                              401,
		"GET /status?token=" + tok + " HTTP/1.1\r\nHost: relay.lan\r\n\r\n":                            200,
		"GET /status HTTP/1.1\r\nHost: relay.lan\r\nAuthorization: Bearer " + tok + "\r\n\r\n":         200,
		"GET /status?token=" + tok + " HTTP/1.1\r\nHost: relay.lan\r\nAuthorization: Bearer x\r\n\r\n": 401,
	} {
		if resp, body := exchange(t, lan, req); resp.StatusCode != want || strings.Contains(body, tok) {
			t.Errorf("%.60q: %d %q, want %d", req, resp.StatusCode, body, want)
		}
	}
}

// Close does not wait for a client that stalls in its request head: the connection is closed
// without an answer, and Close returns (the leak check sees no goroutine left).
func TestCloseCutsStalledClients(t *testing.T) {
	t.Parallel()
	st := testReport(t)
	s, err := Listen("127.0.0.1:0", Config{Status: func() Status { return st }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n")
	// The server has the connection once a complete request on a second one is answered.
	if resp, _ := exchange(t, s.Addr().String(), "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s.Close()
	s.Close() // idempotent
	c.SetReadDeadline(time.Now().Add(testutil.Timeout(10 * time.Second)))
	b, err := io.ReadAll(c)
	var ne net.Error
	if len(b) > 0 || (errors.As(err, &ne) && ne.Timeout()) || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("a stalled connection after Close: %q, %v; want a close without answer", b, err)
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Error("the listener still accepts after Close")
	}
}
