package admin

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Limits of Fetch.
const (
	fetchTimeout = 10 * time.Second // dial, ask and read the whole answer
	fetchMaxHead = 64 << 10         // status line and headers of the answer
	FetchMaxBody = 4 << 20          // the /status JSON
)

// Errors of Fetch a user can cause; the caller adds what to do next.
var (
	ErrBadAddress = errors.New("bad admin address")
	ErrBadToken   = errors.New("the admin token holds spaces or control characters")
	ErrNeedsToken = errors.New("the status page needs its token")
	ErrNoRelay    = errors.New("no relay answers")
	ErrNoAnswer   = errors.New("the admin address did not answer")
)

// Fetch asks the admin listener at addr for /status: one GET with net/http's client on a
// fresh connection (no proxy, no keep-alive), the answer read up to FetchMaxBody.
func Fetch(addr, token, userAgent string) ([]byte, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil || strings.ContainsAny(addr, " \t\r\n/?#@") {
		return nil, fmt.Errorf("%w %q", ErrBadAddress, addr)
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, ErrBadToken
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return nil, fmt.Errorf("%w %q", ErrBadAddress, addr)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Close = true
	hc := &http.Client{Timeout: fetchTimeout, Transport: &http.Transport{
		Proxy: nil, DisableKeepAlives: true, MaxResponseHeaderBytes: fetchMaxHead, ForceAttemptHTTP2: false,
	}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, statusNetErr(addr, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%w (%s)", ErrNeedsToken, addr)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("failed to read status from %s: %s", addr, resp.Status)
	case resp.ContentLength > FetchMaxBody:
		return nil, fmt.Errorf("failed to read status from %s: the answer is %d bytes, more than the %d read", addr, resp.ContentLength, FetchMaxBody)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, FetchMaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read status from %s: the answer ended after part of its body: %w", addr, err)
	}
	if len(body) > FetchMaxBody {
		return nil, fmt.Errorf("failed to read status from %s: the answer is more than the %d bytes read", addr, FetchMaxBody)
	}
	return body, nil
}

// statusNetErr explains a failed request to the admin listener.
func statusNetErr(addr string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w at %s", ErrNoRelay, addr)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w (%s)", ErrNoAnswer, addr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // "Get "http://…": " adds nothing to what follows
	}
	return fmt.Errorf("failed to read status from %s: %w", addr, err)
}
