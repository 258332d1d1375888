package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Server is the web listener: Handler over plain http or https.
type Server struct {
	ln    net.Listener
	srv   *http.Server
	https bool
	done  chan struct{}
}

// Listen binds addr and serves h on it, over https when tlsConf is not nil. The listener has
// header and idle deadlines but no write deadline: a WebSocket lives as long as its link.
func Listen(addr string, h http.Handler, tlsConf *tls.Config) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("failed to listen for the web client: %w", err)
	}
	s := &Server{ln: ln, https: tlsConf != nil, done: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			MaxHeaderBytes: 16 << 10, TLSConfig: tlsConf, ErrorLog: nil}}
	go func() {
		defer close(s.done)
		if s.https {
			s.srv.ServeTLS(ln, "", "")
		} else {
			s.srv.Serve(ln)
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URLs are the addresses to open the web client at: for a listener on all interfaces, one
// per address of this machine's network interfaces (LAN first, loopback last).
func (s *Server) URLs() []string {
	scheme := "http://"
	if s.https {
		scheme = "https://"
	}
	host, port, _ := net.SplitHostPort(s.ln.Addr().String())
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsUnspecified() {
		return []string{scheme + net.JoinHostPort(host, port) + "/"}
	}
	var lan, loop []string
	as, _ := net.InterfaceAddrs()
	for _, a := range as {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLinkLocalUnicast() || (ip.To4() != nil && n.IP.To4() == nil && host == "0.0.0.0") {
			continue
		}
		u := scheme + net.JoinHostPort(n.IP.String(), port) + "/"
		if n.IP.IsLoopback() {
			loop = append(loop, u)
		} else {
			lan = append(lan, u)
		}
	}
	if len(lan)+len(loop) == 0 {
		return []string{scheme + net.JoinHostPort("127.0.0.1", port) + "/"}
	}
	return append(lan, loop...)
}

// Close stops the listener and ends every connection, the WebSockets included. Idempotent.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.srv.Shutdown(ctx) // stops accepting; hijacked WebSockets end when their links close
	s.srv.Close()
	<-s.done
}

// DefaultAddr is where the web client listens when nothing is configured: the relay's host,
// the relay's port plus 2 (7790 beside 7788; the status page has 7789); port 0 when the relay
// binds port 0 (tests).
func DefaultAddr(relayListen string) (string, error) {
	host, port, err := net.SplitHostPort(relayListen)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", err
	}
	if p == 0 {
		return net.JoinHostPort(host, "0"), nil
	}
	if p+2 > 65535 {
		return "", errors.New("the relay's port leaves no room for the web client's (port + 2)")
	}
	return net.JoinHostPort(host, strconv.Itoa(p+2)), nil
}
