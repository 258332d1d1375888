package admin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Limits of Fetch.
const (
	fetchTimeout  = 10 * time.Second // dial, ask and read the whole answer
	fetchMaxHead  = 64 << 10         // status line and headers of the answer
	FetchMaxBody  = 4 << 20          // the /status JSON
	fetchMaxShown = 80               // bytes of a malformed answer quoted in the error
)

// Errors of Fetch a user can cause; the caller adds what to do next.
var (
	ErrBadAddress = errors.New("bad admin address")
	ErrBadToken   = errors.New("the admin token holds spaces or control characters")
	ErrNeedsToken = errors.New("the status page needs its token")
	ErrNoRelay    = errors.New("no relay answers")
	ErrNoAnswer   = errors.New("the admin address did not answer")
)

// Fetch asks the admin listener at addr for /status with a minimal HTTP/1.1 client: one GET
// on a fresh connection (Connection: close), the answer read up to FetchMaxBody. It reads
// what the server writes (Content-Length, or the body up to the close); chunked answers are
// refused. It is not net/http's client, whose transport would add to the binary what a single
// GET does not need.
func Fetch(addr, token, userAgent string) ([]byte, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil || strings.ContainsAny(addr, " \t\r\n/?#@") {
		return nil, fmt.Errorf("%w %q", ErrBadAddress, addr)
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, ErrBadToken
	}
	deadline := time.Now().Add(fetchTimeout)
	conn, err := net.DialTimeout("tcp", addr, fetchTimeout)
	if err != nil {
		return nil, statusNetErr(addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	var req strings.Builder
	fmt.Fprintf(&req, "GET /status HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: application/json\r\n", addr, userAgent)
	if token != "" {
		fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", token)
	}
	req.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return nil, statusNetErr(addr, err)
	}
	code, reason, body, err := readStatusAnswer(bufio.NewReader(conn))
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) {
			return nil, statusNetErr(addr, err)
		}
		return nil, fmt.Errorf("failed to read status from %s: %w", addr, err)
	}
	switch {
	case code == 401:
		return nil, fmt.Errorf("%w (%s)", ErrNeedsToken, addr)
	case code != 200:
		return nil, fmt.Errorf("failed to read status from %s: %d %s", addr, code, reason)
	}
	return body, nil
}

// statusNetErr explains a failed connection to the admin listener.
func statusNetErr(addr string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w at %s", ErrNoRelay, addr)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w (%s)", ErrNoAnswer, addr)
	}
	return fmt.Errorf("failed to read status from %s: %w", addr, err)
}

// readStatusAnswer reads an HTTP/1.x answer: status code, reason phrase and body.
func readStatusAnswer(br *bufio.Reader) (code int, reason string, body []byte, err error) {
	headLeft := fetchMaxHead
	line := func() (string, error) {
		var b []byte
		for {
			chunk, err := br.ReadSlice('\n')
			b = append(b, chunk...)
			if headLeft -= len(chunk); headLeft < 0 {
				return "", errors.New("the answer's head is larger than 64 KiB")
			}
			switch {
			case err == nil:
				return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
			case errors.Is(err, bufio.ErrBufferFull):
				continue
			case errors.Is(err, io.EOF):
				if len(b) == 0 {
					return "", errors.New("the connection closed without an answer")
				}
				return "", fmt.Errorf("the answer ended in its head: %q", shorten(b))
			}
			return "", err
		}
	}
	status, err := line()
	if err != nil {
		return 0, "", nil, err
	}
	proto, rest, _ := strings.Cut(status, " ")
	num, reason, _ := strings.Cut(rest, " ")
	code, cerr := strconv.Atoi(num)
	if !strings.HasPrefix(proto, "HTTP/1.") || len(num) != 3 || cerr != nil || code < 100 {
		return 0, "", nil, fmt.Errorf("not an HTTP answer: %q", shorten([]byte(status)))
	}
	length := int64(-1)
	for {
		h, err := line()
		if err != nil {
			return 0, "", nil, err
		}
		if h == "" {
			break
		}
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return 0, "", nil, fmt.Errorf("malformed header line in the answer: %q", shorten([]byte(h)))
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Transfer-Encoding"):
			return 0, "", nil, fmt.Errorf("the answer uses Transfer-Encoding %q, which this client does not read", shorten([]byte(value)))
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				return 0, "", nil, fmt.Errorf("malformed Content-Length in the answer: %q", shorten([]byte(value)))
			}
			length = n
		}
	}
	if length > FetchMaxBody {
		return 0, "", nil, fmt.Errorf("the answer is %d bytes, more than the %d read", length, FetchMaxBody)
	}
	if length >= 0 {
		body = make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			return 0, "", nil, fmt.Errorf("the answer ended after part of its body: %w", err)
		}
		return code, reason, body, nil
	}
	body, err = io.ReadAll(io.LimitReader(br, FetchMaxBody+1))
	if err != nil {
		return 0, "", nil, err
	}
	if len(body) > FetchMaxBody {
		return 0, "", nil, fmt.Errorf("the answer is more than the %d bytes read", FetchMaxBody)
	}
	return code, reason, body, nil
}

// shorten quotes at most fetchMaxShown bytes of b.
func shorten(b []byte) string {
	if len(b) > fetchMaxShown {
		return string(b[:fetchMaxShown]) + "…"
	}
	return string(b)
}
