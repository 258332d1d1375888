package main

// A small HTTP/1.1 server for the admin listener, in place of net/http (which, with what it
// pulls in, adds megabytes to a binary that must fit a small board). It serves what a browser,
// `echorelay status`, curl and a Prometheus scraper need, and nothing else:
//
//   - one request per connection: every answer says "Connection: close" and has a
//     Content-Length; no keep-alive, no pipelining, no chunked encoding, no compression;
//   - HTTP/1.0 and HTTP/1.1 requests (1.1 needs a Host header); origin-form targets ("/status")
//     and absolute-form ("http://host/status"); the handler sees the path and the query;
//   - no request bodies: a Content-Length above 0 or any Transfer-Encoding is answered 400;
//   - HEAD is answered as GET without the body (Content-Length still says its size);
//   - no TLS, no HTTP/2, no Upgrade, no Expect, no Range, no conditional requests.
//
// Limits, all fixed: the request head (request line and header lines) is at most
// adminMaxHead bytes, beyond that the answer is 431; the whole head must arrive within
// adminHeadTimeout of the connection being accepted, or the answer is 408 and the connection is
// closed (slow clients cannot hold it); writing the answer has adminWriteTimeout. A malformed
// request line or header line is answered 400. At most adminMaxConns connections are served
// at once; further connections are not accepted until one finishes, so they wait in the
// kernel's accept queue (each served connection ends within the two timeouts plus
// adminLinger) and are refused by the kernel only when that queue is full.
//
// Every answer carries the status page's security headers (see securityHeaders). The server
// logs nothing, so it names no client address anywhere.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	adminMaxHead      = 16 << 10         // request line + header lines, bytes
	adminHeadTimeout  = 5 * time.Second  // from accept to the end of the request head
	adminWriteTimeout = 30 * time.Second // to write one answer
	adminLinger       = time.Second      // reading what the client still sends after the answer
	adminLingerBytes  = 256 << 10        // ... at most this much
	adminMaxConns     = 32               // connections served at once
	adminStopWait     = 2 * time.Second  // stop waits this long for answers being written
)

// httpRequest is a parsed request head.
type httpRequest struct {
	method string
	path   string     // the target's path, unescaped
	query  url.Values // the target's query; a malformed query yields what parsed
	proto  string     // HTTP/1.0 or HTTP/1.1
	header []httpField
}

// httpField is one header line; names keep the client's spelling.
type httpField struct{ name, value string }

// get returns the first value of the header name (case-insensitive), or "".
func (r *httpRequest) get(name string) string {
	for _, f := range r.header {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

func (r *httpRequest) has(name string) bool {
	for _, f := range r.header {
		if strings.EqualFold(f.name, name) {
			return true
		}
	}
	return false
}

// httpResponse is an answer; the server adds Content-Length, Connection, Date and the
// security headers.
type httpResponse struct {
	status      int
	contentType string
	header      []httpField
	body        []byte
}

// httpHandler answers one request. It is called for GET, HEAD and every other method alike.
type httpHandler func(*httpRequest) httpResponse

// textResponse is a plain-text answer of one line, like net/http's Error.
func textResponse(status int, msg string) httpResponse {
	return httpResponse{status: status, contentType: "text/plain; charset=utf-8", body: []byte(msg + "\n")}
}

// securityHeaders forbid everything the status page does not need: no scripts, no outside
// requests, no referrer (the token may be in the URL), no caching.
var securityHeaders = []httpField{
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-store"},
}

var statusText = map[int]string{
	200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
	408: "Request Timeout", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
	421: "Misdirected Request", 505: "HTTP Version Not Supported",
}

// httpServer serves one listener; see the file comment.
type httpServer struct {
	ln      net.Listener
	handler httpHandler
	slots   chan struct{} // one per connection being served
	done    chan struct{} // closed by stop
	looped  chan struct{} // closed when the accept loop has returned
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool // true while an answer is being made and written
}

// serveHTTP serves ln with h until stop is called. stop closes the listener and the
// connections that are not being answered, lets answers being made and written finish for up
// to adminStopWait, then closes the remaining connections and waits (again at most
// adminStopWait) for their goroutines: it returns within 2×adminStopWait whatever the clients do.
func serveHTTP(ln net.Listener, h httpHandler) (stop func()) {
	s := &httpServer{ln: ln, handler: h, slots: make(chan struct{}, adminMaxConns), done: make(chan struct{}),
		looped: make(chan struct{}), conns: map[net.Conn]bool{}}
	go s.acceptLoop()
	var once sync.Once
	return func() { once.Do(s.stop) }
}

func (s *httpServer) acceptLoop() {
	defer close(s.looped)
	backoff := time.Duration(0)
	for {
		select {
		case s.slots <- struct{}{}:
		case <-s.done:
			return
		}
		c, err := s.ln.Accept()
		if err != nil {
			<-s.slots
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-s.done:
				return
			}
			continue
		}
		backoff = 0
		s.track(c)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			defer s.untrack(c)
			s.serveConn(c)
		}()
	}
}

func (s *httpServer) track(c net.Conn) {
	s.mu.Lock()
	s.conns[c] = false
	s.mu.Unlock()
}

// answering marks c as making and writing an answer (stop waits for those) or not (stop
// closes those at once: they are reading a request head or lingering).
func (s *httpServer) answering(c net.Conn, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		s.conns[c] = on
	}
}

// closeConns closes the connections (all, or those not answering); their reads and writes
// return at once.
func (s *httpServer) closeConns(all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, busy := range s.conns {
		if all || !busy {
			c.Close()
		}
	}
}

func (s *httpServer) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *httpServer) stop() {
	close(s.done)
	s.ln.Close()
	<-s.looped // no track or wg.Add after this
	s.closeConns(false)
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return
	case <-time.After(adminStopWait):
	}
	s.closeConns(true)
	select {
	case <-finished:
	case <-time.After(adminStopWait):
	}
}

// errHeadTooLarge, errHeadTimeout and *badRequest are the ways a request head is refused.
var (
	errHeadTooLarge = errors.New("request head too large")
	errHeadTimeout  = errors.New("request head not complete in time")
)

// badRequest is a malformed request, with what to tell the client.
type badRequest struct {
	status int
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

func (s *httpServer) serveConn(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(adminHeadTimeout))
	req, err := readRequest(c)
	if err == nil || !isGone(err) {
		s.answering(c, true)
	}
	var resp httpResponse
	var bad *badRequest
	switch {
	case err == nil:
		resp = s.handler(req)
	case errors.As(err, &bad):
		resp = textResponse(bad.status, bad.msg)
	case errors.Is(err, errHeadTooLarge):
		resp = textResponse(431, "the request head is larger than 16 KiB")
	case errors.Is(err, errHeadTimeout):
		resp = textResponse(408, "the request did not arrive in time")
	default:
		return // the client went away: nobody to answer
	}
	c.SetWriteDeadline(time.Now().Add(adminWriteTimeout))
	_, werr := c.Write(encodeResponse(resp, req != nil && req.method == "HEAD"))
	s.answering(c, false)
	if werr != nil {
		return
	}
	if errors.Is(err, errHeadTimeout) {
		return
	}
	// Close gently: stop writing, then read what the client still sends, so that the kernel
	// does not answer it with a reset that could destroy the answer before it is read.
	if tc, ok := c.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
		c.SetReadDeadline(time.Now().Add(adminLinger))
		io.CopyN(io.Discard, c, adminLingerBytes)
	}
}

// isGone reports whether err from readRequest means the client went away (nothing to answer).
func isGone(err error) bool {
	var bad *badRequest
	return !errors.As(err, &bad) && !errors.Is(err, errHeadTooLarge) && !errors.Is(err, errHeadTimeout)
}

// encodeResponse writes the status line, the headers and, unless head, the body.
func encodeResponse(r httpResponse, head bool) []byte {
	var b bytes.Buffer
	text := statusText[r.status]
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", r.status, text)
	if r.contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", r.contentType)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	for _, f := range append(append([]httpField(nil), securityHeaders...), r.header...) {
		fmt.Fprintf(&b, "%s: %s\r\n", f.name, f.value)
	}
	fmt.Fprintf(&b, "Date: %s\r\nConnection: close\r\n\r\n", time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	if !head {
		b.Write(r.body)
	}
	return b.Bytes()
}

// readRequest reads one request head from c (a connection with its read deadline set).
// Errors: *badRequest (answer it), errHeadTooLarge, errHeadTimeout, or another error when the
// client went away.
func readRequest(c io.Reader) (*httpRequest, error) {
	lr := &io.LimitedReader{R: c, N: adminMaxHead}
	br := bufio.NewReaderSize(lr, 4096)
	readLine := func() (string, error) {
		line, err := br.ReadString('\n')
		if err != nil {
			var ne net.Error
			switch {
			case err == io.EOF && lr.N == 0:
				return "", errHeadTooLarge
			case errors.As(err, &ne) && ne.Timeout():
				return "", errHeadTimeout
			}
			return "", err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		return line, nil
	}
	line, err := readLine()
	if err != nil {
		return nil, err
	}
	req, err := parseRequestLine(line)
	if err != nil {
		return nil, err
	}
	for {
		line, err := readLine()
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, &badRequest{400, "malformed header line"}
		}
		value = strings.Trim(value, " \t")
		for i := 0; i < len(value); i++ {
			if b := value[i]; (b < 0x20 && b != '\t') || b == 0x7f {
				return nil, &badRequest{400, "control character in a header value"}
			}
		}
		req.header = append(req.header, httpField{name, value})
	}
	if req.proto == "HTTP/1.1" && !req.has("Host") {
		return nil, &badRequest{400, "an HTTP/1.1 request needs a Host header"}
	}
	if req.has("Transfer-Encoding") {
		return nil, &badRequest{400, "requests with a body are not accepted"}
	}
	if cl := req.get("Content-Length"); cl != "" {
		n, err := strconv.ParseUint(cl, 10, 63)
		if err != nil {
			return nil, &badRequest{400, "malformed Content-Length"}
		}
		if n > 0 {
			return nil, &badRequest{400, "requests with a body are not accepted"}
		}
	}
	return req, nil
}

// parseRequestLine parses "METHOD TARGET HTTP/1.x".
func parseRequestLine(line string) (*httpRequest, error) {
	parts := strings.Split(line, " ")
	if len(parts) != 3 || !isToken(parts[0]) || parts[1] == "" {
		return nil, &badRequest{400, "malformed request line"}
	}
	method, target, proto := parts[0], parts[1], parts[2]
	for i := 0; i < len(target); i++ {
		if target[i] <= 0x20 || target[i] == 0x7f {
			return nil, &badRequest{400, "malformed request target"}
		}
	}
	switch {
	case proto == "HTTP/1.0" || proto == "HTTP/1.1":
	case len(proto) == 8 && strings.HasPrefix(proto, "HTTP/") && proto[6] == '.' && isDigit(proto[5]) && isDigit(proto[7]):
		return nil, &badRequest{505, "only HTTP/1.0 and HTTP/1.1 are spoken here"}
	default:
		return nil, &badRequest{400, "malformed request line"}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || (!strings.HasPrefix(target, "/") && u.Scheme != "http" && u.Scheme != "https") {
		return nil, &badRequest{400, "malformed request target"}
	}
	query, _ := url.ParseQuery(u.RawQuery)
	return &httpRequest{method: method, path: u.Path, query: query, proto: proto}, nil
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// isToken reports whether s is an HTTP token (RFC 9110 tchar), as methods and header names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || isDigit(b) || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0) {
			return false
		}
	}
	return true
}
