package admin

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/internal/testutil"
)

// fakeAdmin answers one connection on loopback with answer (written after the request head
// was read with net/http's parser) and hands the parsed request to the test.
func fakeAdmin(t *testing.T, answer string) (addr string, got <-chan *http.Request) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *http.Request, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testutil.Timeout(10 * time.Second)))
		req, err := http.ReadRequest(bufio.NewReader(c))
		ch <- req // nil when the client's request was not HTTP
		if err == nil {
			io.WriteString(c, answer)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), ch
}

// Fetch (`echorelay status`) speaks HTTP that net/http understands, and reads answers with and
// without Content-Length.
func TestStatusClientRequest(t *testing.T) {
	t.Parallel()
	body := `{"name":"x"}`
	for _, answer := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + body,
		"HTTP/1.0 200 OK\r\n\r\n" + body, // no length: up to the close
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n" + body + "\r\n0\r\n\r\n",
	} {
		addr, reqs := fakeAdmin(t, answer)
		got, err := Fetch(addr, "s3cret-token-0123", "echorelay/test")
		if err != nil || string(got) != body {
			t.Fatalf("%q: %q, %v", answer, got, err)
		}
		req := <-reqs
		if req == nil || req.Method != "GET" || req.URL.Path != "/status" || req.Host != addr || !req.Close ||
			req.Header.Get("Authorization") != "Bearer s3cret-token-0123" || req.ContentLength != 0 {
			t.Errorf("the request as net/http reads it: %+v", req)
		}
	}
	addr, reqs := fakeAdmin(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	if _, err := Fetch(addr, "", "echorelay/test"); err != nil {
		t.Fatal(err)
	}
	if req := <-reqs; req == nil || req.Header.Get("Authorization") != "" {
		t.Errorf("without a token the request has Authorization %q", req.Header.Get("Authorization"))
	}
}

// Answers that are not a 200 with a readable body give a clear error, never a panic or a
// partial report.
func TestStatusClientBadAnswers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		answer, want string
		sentinel     error // the error a user can cause, nil for the others
	}{
		{"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", "needs its token", ErrNeedsToken},
		{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad", "500 Internal Server Error", nil},
		{"HTTP/1.1 404 Not Found\r\n\r\n", "404 Not Found", nil},
		{"", "failed to read status from", nil},
		{"SSH-2.0-OpenSSH_9.2\r\n", "malformed HTTP", nil},
		{"HTTP/1.1 2000 OK\r\n\r\n", "failed to read status from", nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "ended after part of its body", nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "Content-Length", nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}", "Content-Length", nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", "more than the 4194304", nil},
		{"HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("x", FetchMaxBody+1), "more than the 4194304", nil},
		{"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed MIME header", nil},
		{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", fetchMaxHead) + "\r\n\r\n", "exceeded 65536 bytes", nil},
		{"HTTP/1.1 200 OK\r\nContent-Le", "failed to read status from", nil},
	} {
		addr, _ := fakeAdmin(t, c.answer)
		_, err := Fetch(addr, "", "echorelay/test")
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.sentinel != nil) != isUserError(err) || (c.sentinel != nil && !errors.Is(err, c.sentinel)) {
			t.Errorf("%.50q: %v; want an error with %q (%v)", c.answer, err, c.want, c.sentinel)
		}
	}
	for _, bad := range []string{"no-port", "127.0.0.1:1/x", "127.0.0.1:1 x"} {
		if _, err := Fetch(bad, "", "echorelay/test"); !errors.Is(err, ErrBadAddress) || !strings.Contains(err.Error(), "bad admin address") {
			t.Errorf("address %q: %v", bad, err)
		}
	}
	if _, err := Fetch("127.0.0.1:1", "tok\r\nX-Injected: 1", "echorelay/test"); !errors.Is(err, ErrBadToken) {
		t.Errorf("a token with a line break: %v", err)
	}
	// Nothing listening: ErrNoRelay, for the hint "is the relay running?".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := Fetch(closed, "", "echorelay/test"); !errors.Is(err, ErrNoRelay) {
		t.Errorf("a closed port: %v", err)
	}
}

// isUserError reports whether err is one of Fetch's sentinels.
func isUserError(err error) bool {
	for _, s := range []error{ErrBadAddress, ErrBadToken, ErrNeedsToken, ErrNoRelay, ErrNoAnswer} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// The errors a user can cause become one line and a hint (FetchHinted, which `echorelay
// status` and `reload` print); the others stay plain errors.
func TestFetchHinted(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	unauthorized, _ := fakeAdmin(t, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
	broken, _ := fakeAdmin(t, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
	for _, c := range []struct {
		addr, token, want, hint string
	}{
		{unauthorized, "", "needs its token", "give --token"},
		{"no-port", "", "bad admin address", "HOST:PORT"},
		{"127.0.0.1:1", "tok\r\nX: 1", "spaces or control characters", "admin.token"},
		{refused, "", "no relay answers at " + refused, "is the relay running?"},
		{broken, "", "500 Internal Server Error", ""},
	} {
		_, err := FetchHinted(c.addr, c.token, "echorelay/test")
		if h := hint.Of(err); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(h, c.hint) || (c.hint == "") != (h == "") {
			t.Errorf("%s: %v (hint %q); want %q with hint %q", c.addr, err, h, c.want, c.hint)
		}
	}
}

// Running: a relay answers at the address noted in the data directory, also when it asks
// for its token; no note, a note of a closed port or of no address at all is no relay.
func TestRunning(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	ok, _ := fakeAdmin(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	unauthorized, _ := fakeAdmin(t, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
	broken, _ := fakeAdmin(t, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
	for _, c := range []struct {
		note string // "-": no admin.addr file
		want bool
	}{{ok + "\n", true}, {unauthorized, true}, {broken, false}, {refused, false}, {"", false}, {"-", false}} {
		dir := t.TempDir()
		if c.note != "-" {
			if err := os.WriteFile(filepath.Join(dir, AddrFile), []byte(c.note), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := Running(dir, "echorelay/test"); got != c.want {
			t.Errorf("admin.addr %q: Running %v, want %v", c.note, got, c.want)
		}
	}
}
