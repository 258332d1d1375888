package admin

// The admin listener, served by net/http. What it answers, and the rules it enforces:
//
//   - GET and HEAD of / (the page), /status (JSON) and /metrics; every other path is 404 and
//     every other method 405 (with Allow). Requests with a body are 400, HTTP/2 and other
//     versions than 1.0 and 1.1 are 505.
//   - One request per connection (keep-alives off): every answer says "Connection: close", so
//     a browser's idle connections never hold one of the MaxConns slots.
//   - With a token (a LAN listener), every request must carry it, as Authorization: Bearer …
//     (which wins) or ?token=…; it is checked before anything else. Without one (loopback),
//     only requests for localhost or a loopback address are answered, 421 otherwise: a web page
//     the operator opens could reach the listener through DNS rebinding, and such a request
//     names the attacker's host.
//   - Limits: the request head (request line and header lines) is at most MaxHead bytes, 431
//     beyond; it must arrive within HeadTimeout of the connection being accepted, or the
//     connection is closed without an answer (slow clients cannot hold it); writing an answer
//     has WriteTimeout. At most MaxConns connections are served at once: further ones are not
//     accepted until one ends, so they wait in the kernel's accept queue.
//   - Answers made by the handler carry Content-Length, Date and the security headers
//     (securityHeaders). Errors that net/http answers itself before the handler runs (a
//     malformed request line or header, 431) carry its short plain-text answer instead.
//   - The server logs nothing (ErrorLog discards), so it names no client address anywhere.

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits of the admin listener.
const (
	MaxHead      = 16 << 10         // request line + header lines, bytes
	HeadTimeout  = 5 * time.Second  // from accept to the end of the request head
	ReadTimeout  = 10 * time.Second // the whole request (there is no body)
	WriteTimeout = 30 * time.Second // to write one answer
	IdleTimeout  = 5 * time.Second  // unused with keep-alives off; bounds a client that lingers
	MaxConns     = 32               // connections served at once
	StopWait     = 2 * time.Second  // Close waits this long for answers being written
)

// netHTTPSlop is what net/http reads beyond Server.MaxHeaderBytes (its bufio slop): the
// request head may be MaxHeaderBytes+netHTTPSlop bytes. TestHeadLimit pins it.
const netHTTPSlop = 4096

// securityHeaders forbid everything the status page does not need: no scripts, no outside
// requests, no referrer (the token may be in the URL), no caching.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-store"},
}

// Config of the admin listener.
type Config struct {
	// Status builds the status for each request of /, /status and /metrics
	// (Collector.Status). Required.
	Status func() Status
	// Token is required of every request when not ""; when "" only requests for a loopback
	// host are answered.
	Token string
}

// Server is a running admin listener.
type Server struct {
	srv    *http.Server
	ln     *limitListener
	served chan struct{} // closed when Serve has returned
	once   sync.Once

	mu    sync.Mutex // guards conns
	conns map[net.Conn]http.ConnState
}

// Listen binds addr and serves the admin listener on it until Close.
func Listen(addr string, cfg Config) (*Server, error) {
	if cfg.Status == nil {
		return nil, errors.New("failed to start the admin listener: no Status source")
	}
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("failed to listen for the status page on %s: %w", addr, err)
	}
	return Serve(inner, cfg), nil
}

// Serve serves the admin listener on ln until Close, which closes ln.
func Serve(ln net.Listener, cfg Config) *Server {
	s := &Server{ln: newLimitListener(ln, MaxConns), served: make(chan struct{}), conns: map[net.Conn]http.ConnState{}}
	s.srv = &http.Server{
		Handler:           Handler(cfg),
		ReadHeaderTimeout: HeadTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHead - netHTTPSlop,
		ErrorLog:          log.New(io.Discard, "", 0), // its messages name client addresses
		ConnState:         s.track,
	}
	s.srv.SetKeepAlivesEnabled(false)
	go func() {
		defer close(s.served)
		s.srv.Serve(s.ln)
	}()
	return s
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

func (s *Server) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(s.conns, c)
		return
	}
	s.conns[c] = st
}

// Close stops the listener: no new connections; those still reading a request head are
// closed at once; answers being made and written get StopWait to finish, then every
// connection is closed. It returns within about StopWait whatever the clients do, and is
// idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		for c, st := range s.conns {
			if st == http.StateNew || st == http.StateIdle {
				c.Close()
			}
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), StopWait)
		defer cancel()
		if s.srv.Shutdown(ctx) != nil {
			s.srv.Close()
		}
		<-s.served
	})
	return nil
}

// Handler answers the admin listener's requests; see the file comment for its rules.
func Handler(cfg Config) http.Handler {
	var h http.Handler = pages(cfg.Status)
	h = requireToken(cfg.Token, h)
	h = plainRequests(h)
	return withSecurityHeaders(h)
}

// pages answers GET and HEAD of /, /status and /metrics.
func pages(status func() Status) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" && r.Method != "HEAD" {
			w.Header().Set("Allow", "GET, HEAD")
			textAnswer(w, r, http.StatusMethodNotAllowed, "only GET and HEAD are answered here")
			return
		}
		var b bytes.Buffer
		switch r.URL.Path {
		case "/status":
			st := status()
			enc := json.NewEncoder(&b)
			enc.SetIndent("", "  ")
			if err := enc.Encode(&st); err != nil {
				textAnswer(w, r, http.StatusInternalServerError, "status unavailable")
				return
			}
			answer(w, r, http.StatusOK, "application/json", b.Bytes())
		case "/metrics":
			st := status()
			if err := WriteMetrics(&b, &st); err != nil {
				textAnswer(w, r, http.StatusInternalServerError, "metrics unavailable")
				return
			}
			answer(w, r, http.StatusOK, MetricsContentType, b.Bytes())
		case "/":
			st := status()
			q := ""
			if t := r.URL.Query().Get("token"); t != "" {
				q = "?token=" + url.QueryEscape(t) // keep the token on the page's own links
			}
			if err := WritePage(&b, &st, q); err != nil {
				textAnswer(w, r, http.StatusInternalServerError, "status page failed")
				return
			}
			answer(w, r, http.StatusOK, "text/html; charset=utf-8", b.Bytes())
		default:
			textAnswer(w, r, http.StatusNotFound, "404 page not found")
		}
	})
}

// plainRequests refuses what the admin listener does not speak: versions other than HTTP/1.x
// (505) and requests with a body (400).
func plainRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.ProtoMajor != 1:
			textAnswer(w, r, http.StatusHTTPVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are spoken here")
		case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
			textAnswer(w, r, http.StatusBadRequest, "requests with a body are not accepted")
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// requireToken lets a request through when token is "" (then only for a loopback host) or the
// request carries it, as ?token=… or Authorization: Bearer … (which wins when both are given).
func requireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return loopbackHostOnly(h)
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.URL.Query().Get("token")
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			got = strings.TrimSpace(a[len("Bearer "):])
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="echorelay"`)
			textAnswer(w, r, http.StatusUnauthorized, "this status page needs its token: open it as /?token=… (the token is in the relay's data directory, file admin.token)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHostOnly answers only requests whose host names the loopback interface. Without a
// token the page relies on being reachable from this computer alone; a web page the operator
// opens could still reach it through DNS rebinding (attacker.example resolving to 127.0.0.1),
// and such a request carries the attacker's name in Host (issue #15 item 5).
func loopbackHostOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" && !r.ProtoAtLeast(1, 1) {
			h.ServeHTTP(w, r) // HTTP/1.0 without Host: no browser sends that
			return
		}
		if !LoopbackHost(r.Host) {
			textAnswer(w, r, http.StatusMisdirectedRequest, "this status page answers only requests for localhost, 127.0.0.1 or [::1]; open http://127.0.0.1:PORT/ (the name in the request is not one of them)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LoopbackHost reports whether a host, host:port or [v6]:port is localhost or a loopback
// address.
func LoopbackHost(v string) bool {
	host := v
	if h, _, err := net.SplitHostPort(v); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func withSecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, f := range securityHeaders {
			w.Header().Set(f[0], f[1])
		}
		h.ServeHTTP(w, r)
	})
}

// answer writes a whole answer with its Content-Length (HEAD: without the body).
func answer(w http.ResponseWriter, r *http.Request, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != "HEAD" {
		w.Write(body)
	}
}

// textAnswer is a plain-text answer of one line, like http.Error.
func textAnswer(w http.ResponseWriter, r *http.Request, code int, msg string) {
	answer(w, r, code, "text/plain; charset=utf-8", []byte(msg+"\n"))
}

// limitListener accepts at most n connections at once: Accept waits for one of them to close
// (as golang.org/x/net/netutil.LimitListener does).
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// limitConn gives its slot back on its first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite lets net/http close gently (it half-closes before the final close, so that a
// client still sending does not get a reset that destroys the answer).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
