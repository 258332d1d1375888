package peers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/internal/clientconn"
)

// Client speaks the client side of the protocol (SUBMIT, FETCH, SUBSCRIBE) to one relay over
// QUIC or TCP+TLS: the transport and the relay's authentication are here, the frames are
// internal/clientconn's (shared with the browser's WebSocket transport). Its methods are safe
// for concurrent use; requests are pipelined on one link.
type Client struct {
	*clientconn.Conn
	s     stream
	qside *quicSide
}

// ErrClientClosed is returned for requests on a closed client.
var ErrClientClosed = clientconn.ErrClosed

// DialClientOptions are the choices of DialClientWith; the zero value is DialClient.
type DialClientOptions struct {
	// RelayFingerprint, when set, is the relay's fingerprint as `echorelay fingerprint` prints
	// it (64 hex digits): the TLS handshake, on QUIC and on TCP+TLS alike, fails with
	// ErrWrongRelay unless the relay presents that key. Empty: any relay is accepted (the link
	// is encrypted but the relay unauthenticated); Client.RelayFingerprint tells which one
	// answered, for a client that pins on first use.
	RelayFingerprint string
}

// DialClient connects to a relay at `[quic://|tls://]host:port` as a client and exchanges
// HELLO, accepting whatever relay answers there: DialClientWith without a fingerprint.
func DialClient(ctx context.Context, addr string) (*Client, error) {
	return DialClientWith(ctx, addr, DialClientOptions{})
}

// DialClientWith connects to a relay at `[quic://|tls://]host:port` as a client and exchanges
// HELLO. With opts.RelayFingerprint it refuses a relay with another key: the error matches
// ErrWrongRelay and names both fingerprints.
func DialClientWith(ctx context.Context, addr string, opts DialClientOptions) (*Client, error) {
	p, err := ParsePeer(addr)
	if err != nil {
		return nil, fmt.Errorf("relay address: %w", err)
	}
	if p.IsEcho() {
		return nil, fmt.Errorf("relay address: %s:// is an Echo link, not a client transport (use quic:// or tls://)", p.Scheme)
	}
	if opts.RelayFingerprint != "" {
		fp, err := parseFingerprint(opts.RelayFingerprint)
		if err != nil {
			return nil, fmt.Errorf("relay %w", err)
		}
		if p.Pin != "" && p.Pin != fp {
			return nil, fmt.Errorf("relay address: it carries the fingerprint %s, the options %s", p.Pin, fp)
		}
		p.Pin = fp
	}
	c := &Client{}
	if p.Scheme == SchemeTLS {
		c.s, err = dialTLS(ctx, p, nil)
	} else {
		c.s, err = dialClientAny(ctx, p, &c.qside)
	}
	if err != nil {
		var wr *wrongRelay
		if errors.As(err, &wr) { // without the transport's wrapping ("CRYPTO_ERROR 0x12a (local): …")
			err = wr
		}
		return nil, fmt.Errorf("failed to connect to relay %s: %w", p.Addr, err)
	}
	c.Conn, err = clientconn.Open(ctx, c.s.rw, clientconn.Options{
		Close:            func() error { c.s.close(0, ""); c.closeSide(); return nil },
		SetReadDeadline:  func(t time.Time) error { return c.s.setDeadline(true, t) },
		HandshakeTimeout: HandshakeTimeout,
		Name:             p.Addr,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ErrNothingListens is a relay address where TCP refuses the connection and QUIC does not
// answer: no relay runs there (or a firewall rejects it).
var ErrNothingListens = errors.New("nothing listens there")

// ClientProbeAfter is how long a client's QUIC dial may go unanswered before the client asks
// TCP whether anything listens at the address. A closed UDP port stays silent (quic-go's
// unconnected socket sees no ICMP error), so without the probe a dead relay costs the whole
// handshake timeout; a TCP "connection refused" answers at once.
const ClientProbeAfter = time.Second

// dialClientAny dials the relay over QUIC. If QUIC has not answered after ClientProbeAfter, a
// plain TCP connect asks whether anything listens: refused ends the dial with
// ErrNothingListens; accepted means a relay is there, so a failed QUIC dial (UDP blocked on the
// way) falls back to TCP+TLS on the same port.
func dialClientAny(ctx context.Context, p Peer, side **quicSide) (stream, error) {
	type result struct {
		s   stream
		q   *quicSide
		err error
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		var q *quicSide
		s, err := dialClientQUIC(qctx, p, &q)
		done <- result{s, q, err}
	}()
	probe := time.NewTimer(ClientProbeAfter)
	defer probe.Stop()
	tcpListens := false
	for {
		select {
		case r := <-done:
			if r.err == nil {
				*side = r.q
				return r.s, nil
			}
			if tcpListens && ctx.Err() == nil && !errors.Is(r.err, ErrWrongRelay) {
				tp := p
				tp.Scheme = SchemeTLS
				if s, err := dialTLS(ctx, tp, nil); err == nil {
					return s, nil
				}
			}
			return stream{}, r.err
		case <-probe.C:
			var d net.Dialer
			pctx, pcancel := context.WithTimeout(ctx, ClientProbeAfter)
			conn, err := d.DialContext(pctx, "tcp", p.Addr)
			pcancel()
			if err == nil {
				conn.Close()
				tcpListens = true
				continue
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				// A relay started with --no-tcp refuses TCP too, so QUIC gets a little longer
				// (a slow board's handshake) before the refusal is taken as the answer.
				grace := time.NewTimer(2 * ClientProbeAfter)
				defer grace.Stop()
				var r result
				select {
				case r = <-done:
				case <-grace.C:
					cancel()
					r = <-done // QUIC may have answered at the last moment
				}
				if r.err == nil {
					*side = r.q
					return r.s, nil
				}
				if errors.Is(r.err, ErrWrongRelay) { // something answers, just not the relay expected
					return stream{}, r.err
				}
				return stream{}, fmt.Errorf("%w: TCP refused the connection and QUIC gave no answer within %v", ErrNothingListens, 3*ClientProbeAfter)
			}
		}
	}
}

func dialClientQUIC(ctx context.Context, p Peer, side **quicSide) (stream, error) {
	udp, err := net.ListenUDP("udp", nil)
	if err != nil {
		return stream{}, err
	}
	q := &quicSide{udp: udp}
	q.tr = newClientTransport(udp)
	s, err := q.dial(ctx, p, nil)
	if err != nil {
		q.tr.Close()
		udp.Close()
		return stream{}, err
	}
	*side = q
	return s, nil
}

func (c *Client) closeSide() {
	if c.qside != nil {
		c.qside.tr.Close()
		c.qside.udp.Close()
	}
}

// TLS is the link's TLS state (negotiated key exchange group, relay certificate).
func (c *Client) TLS() tls.ConnectionState { return c.s.tls }

// RelayFingerprint is the fingerprint of the relay this client is connected to (64 lowercase
// hex digits, as `echorelay fingerprint` prints it): the key whose possession it proved in the
// TLS handshake. A client that dialed without a fingerprint may record it and pass it as
// DialClientOptions.RelayFingerprint next time (trust on first use).
func (c *Client) RelayFingerprint() string { return c.s.peerFP }
