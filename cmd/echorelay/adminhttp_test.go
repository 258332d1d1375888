package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/testutil"
)

// The admin listener (internal/admin, served by net/http) of a running relay, spoken to over
// raw TCP by a hostile client, and read back with net/http's client-side parser.

// rawAnswer is an answer as bytes on the wire, parsed by net/http.
type rawAnswer struct {
	code   int
	header http.Header
	close  bool   // Connection: close (net/http takes it out of header)
	body   string // exactly the bytes after the head, up to the server's close
}

// rawExchange sends req on a fresh connection to addr and reads everything until the server
// closes (bounded).
func rawExchange(t *testing.T, addr, req string) rawAnswer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testutil.Timeout(20 * time.Second)))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%.40q: reading the answer: %v (got %q)", req, err, all)
	}
	return parseRawAnswer(t, all)
}

func parseRawAnswer(t *testing.T, all []byte) rawAnswer {
	t.Helper()
	head, body, ok := bytes.Cut(all, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no complete answer head in %q", all)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))), nil)
	if err != nil {
		t.Fatalf("net/http cannot read the answer %q: %v", head, err)
	}
	return rawAnswer{resp.StatusCode, resp.Header, resp.Close, string(body)}
}

// securityHeaders are what every answer of the admin handler carries: no scripts, no outside
// requests, no referrer (the token may be in the URL), no caching.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-store"},
}

// checkHeaders checks what every answer of the admin handler carries.
func (a rawAnswer) checkHeaders(t *testing.T, what string, head bool) {
	t.Helper()
	for _, f := range securityHeaders {
		if got := a.header.Get(f[0]); got != f[1] {
			t.Errorf("%s: %s %q, want %q", what, f[0], got, f[1])
		}
	}
	if !a.close || a.header.Get("Date") == "" || a.header.Get("Content-Type") == "" {
		t.Errorf("%s: headers %v", what, a.header)
	}
	cl := a.header.Get("Content-Length")
	if cl == "" || (!head && cl != fmt.Sprint(len(a.body))) {
		t.Errorf("%s: Content-Length %q with %d body bytes", what, cl, len(a.body))
	}
}

// Malformed, oversized and unwelcome requests get their 4xx answer and do not disturb the next
// request. Answers of the admin handler carry the security headers and a Content-Length;
// requests net/http refuses before the handler runs (bare) get its short plain-text answer,
// which closes the connection too and echoes nothing of the request.
func TestAdminHTTPHostileRequests(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "H")
	for _, c := range []struct {
		req  string
		want int
		bare bool // answered by net/http before the handler
	}{
		{"GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, false},
		{"GET /status HTTP/1.0\r\n\r\n", 200, false}, // 1.0 needs no Host
		{"GET /metrics HTTP/1.1\nHost: localhost\n\n", 200, false},
		{"GET http://127.0.0.1/status HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, false},
		{"GET /?token=ignored HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, false},
		{"GET /nothing-here HTTP/1.1\r\nHost: localhost\r\n\r\n", 404, false},
		{"GET /status/ HTTP/1.1\r\nHost: localhost\r\n\r\n", 404, false},
		{"POST /status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", 405, false},
		{"DELETE / HTTP/1.1\r\nHost: localhost\r\n\r\n", 405, false},
		{"GARBAGE\r\n\r\n", 400, true},
		{"GET /status\r\n\r\n", 400, true},
		{"GET  /status HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, true},
		{"GET status HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, true},
		{"G(T / HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, true},
		{"GET / HTTP/1.1\r\n\r\n", 400, true}, // 1.1 without Host
		{"GET / HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n", 400, true},
		{"GET / HTTP/1.1\r\nHost: localhost\r\nBad Name: y\r\n\r\n", 400, true},
		{"GET / HTTP/1.1\r\nHost: localhost\r\n folded: y\r\n\r\n", 400, true},
		{"GET / HTTP/1.1\r\nHost: localhost\r\nX: a\x00b\r\n\r\n", 400, true},
		{"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello", 400, false},
		{"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", 400, true},
		{"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
		{"GET / HTTP/2.0\r\n\r\n", 505, true},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, false},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not HTTP at all, a TLS hello\r\n\r\n", 400, true},
	} {
		a := rawExchange(t, r.admin, c.req)
		if a.code != c.want {
			t.Errorf("%q: %d %q, want %d", c.req, a.code, a.body, c.want)
			continue
		}
		if c.bare {
			if !a.close || strings.Contains(a.body, "localhost") {
				t.Errorf("%q: net/http's answer %v %q, want Connection: close and nothing of the request", c.req, a.header, a.body)
			}
			continue
		}
		a.checkHeaders(t, fmt.Sprintf("%.30q", c.req), false)
		if c.want == 405 && a.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%q: 405 without Allow: GET, HEAD (%v)", c.req, a.header)
		}
	}

	// HEAD: the headers of the GET answer, its length, and no body.
	get := rawExchange(t, r.admin, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	head := rawExchange(t, r.admin, "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	head.checkHeaders(t, "HEAD /", true)
	if head.code != 200 || head.body != "" || head.header.Get("Content-Type") != "text/html; charset=utf-8" ||
		head.header.Get("Content-Length") == "0" || !strings.Contains(get.body, "<h1 id=\"relay-name\">") {
		t.Errorf("HEAD /: %d, headers %v, body %q", head.code, head.header, head.body)
	}
	if m := rawExchange(t, r.admin, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"); m.header.Get("Content-Type") != admin.MetricsContentType {
		t.Errorf("/metrics Content-Type %q", m.header.Get("Content-Type"))
	}

	// A head over 16 KiB: 431, read intact although the client sent more than was read, and
	// the next request is answered.
	for _, size := range []int{admin.MaxHead + 1, 200 << 10} {
		big := "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("a", size) + "\r\n\r\n"
		if a := rawExchange(t, r.admin, big); a.code != 431 {
			t.Errorf("%d-byte header: %d, want 431", size, a.code)
		}
		if a := rawExchange(t, r.admin, "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n"); a.code != 200 {
			t.Errorf("after the %d-byte header: %d", size, a.code)
		}
	}
	// Just inside the limit is fine.
	fit := "GET /status HTTP/1.1\r\nHost: localhost\r\nX-Big: \r\n\r\n"
	fit = strings.Replace(fit, "X-Big: ", "X-Big: "+strings.Repeat("a", admin.MaxHead-len(fit)), 1)
	if a := rawExchange(t, r.admin, fit); len(fit) != admin.MaxHead || a.code != 200 {
		t.Errorf("a %d-byte head: %d, want 200", len(fit), a.code)
	}

	// net/http as a client reads the answers as well.
	if code, body := httpGet(t, "http://"+r.admin+"/status"); code != 200 || !strings.Contains(body, `"fingerprint"`) {
		t.Errorf("net/http client: %d %q", code, body)
	}
}

// Clients that connect and stall cannot keep the status page from others: each is closed at
// the header deadline (with net/http's bare 400 for the part of a head that arrived), and a normal request made while more connections
// than are served at once stall is answered (it waits in the accept queue until the
// stalled ones are cut off).
func TestAdminHTTPSlowClients(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "S")
	const stalled = admin.MaxConns + 8
	conns := make([]net.Conn, stalled)
	start := time.Now()
	for i := range conns {
		c, err := net.Dial("tcp", r.admin)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /sta"); err != nil { // half a request line, then nothing
			t.Fatal(err)
		}
		conns[i] = c
	}

	client := &http.Client{Timeout: testutil.Timeout(30 * time.Second)}
	resp, err := client.Get("http://" + r.admin + "/status")
	if err != nil {
		t.Fatalf("a normal request while %d connections stall: %v", stalled, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a normal request while %d connections stall: %d", stalled, resp.StatusCode)
	}

	// Every stalled connection is closed by the relay.
	var wg sync.WaitGroup
	errs := make(chan string, stalled)
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(testutil.Timeout(30 * time.Second)))
			all, err := io.ReadAll(c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				errs <- fmt.Sprintf("a stalled connection was not closed by the relay: %v", err)
				return
			}
			// net/http answers a head cut off by its deadline with a bare 400 (nothing when
			// nothing had arrived), then closes.
			if (len(all) > 0 && !bytes.HasPrefix(all, []byte("HTTP/1.1 400 "))) || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
				errs <- fmt.Sprintf("a stalled connection got %q, %v; want a 400 or nothing, then the close", all, err)
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if took := time.Since(start); took < admin.HeadTimeout-time.Second {
		t.Errorf("stalled connections were cut after %v, before the %v header deadline", took, admin.HeadTimeout)
	}

	// A relay told to stop does not wait for stalled clients: r.stop fails the test when the
	// relay does not exit on SIGTERM in time, and the stalled connection is closed.
	c, err := net.Dial("tcp", r.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n")
	r.stop()
	c.SetReadDeadline(time.Now().Add(testutil.Timeout(5 * time.Second)))
	// (a reset when the relay had not accepted it yet)
	if b, err := io.ReadAll(c); (err != nil && !errors.Is(err, syscall.ECONNRESET)) || len(b) > 0 {
		t.Errorf("a stalled connection after the relay stopped: %q, %v; want a close without answer", b, err)
	}
}

// On the LAN the token is checked before anything else, by Bearer or by ?token=; the 401
// explains itself and never holds the token.
func TestAdminHTTPToken(t *testing.T) {
	t.Parallel()
	const tok = "0123456789abcdef-token"
	r := startRelay(t, "T", "--admin", "0.0.0.0:0", "--admin-lan", "--admin-token", tok)
	_, port, _ := net.SplitHostPort(r.admin)
	addr := "127.0.0.1:" + port
	for _, c := range []struct {
		req  string
		want int
	}{
		{"GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n", 401},
		{"POST /status HTTP/1.1\r\nHost: localhost\r\n\r\n", 401},
		{"GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n", 401},
		{"GET /status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + tok + "\r\n\r\n", 200},
		{"GET /status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer  " + tok + " \r\n\r\n", 200},
		{"GET /status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic " + tok + "\r\n\r\n", 401},
		{"GET /status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + tok + "x\r\n\r\n", 401},
		{"GET /status?token=" + tok + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 200},
		{"GET /status?token=" + tok + "&token=other HTTP/1.1\r\nHost: localhost\r\n\r\n", 200},
		{"GET /status?token=wrong HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + tok + "\r\n\r\n", 200}, // Bearer wins
		{"GET /status?token=" + tok + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer wrong\r\n\r\n", 401},
		{"POST /status?token=" + tok + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 405},
		{"GET /nothing?token=" + tok + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 404},
	} {
		a := rawExchange(t, addr, c.req)
		if a.code != c.want {
			t.Errorf("%q: %d, want %d", c.req, a.code, c.want)
			continue
		}
		a.checkHeaders(t, fmt.Sprintf("%.40q", c.req), false)
		if c.want == 401 {
			if a.header.Get("WWW-Authenticate") != `Bearer realm="echorelay"` || !strings.HasPrefix(a.body, "this status page needs its token: open it as /?token=") {
				t.Errorf("%q: 401 answer %v %q", c.req, a.header, a.body)
			}
			if strings.Contains(a.body, tok) {
				t.Errorf("the 401 answer holds the token")
			}
		}
	}
	a := rawExchange(t, addr, "GET /?token="+tok+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if !strings.Contains(a.body, `href="/status?token=`+tok+`"`) {
		t.Errorf("the page's links lose the token:\n%s", a.body)
	}
}
