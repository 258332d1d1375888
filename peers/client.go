package peers

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// Client speaks the client side of the protocol (SUBMIT, FETCH, SUBSCRIBE) to one relay.
// Its methods are safe for concurrent use; requests are pipelined on one link.
type Client struct {
	s     stream
	hello echo.Hello
	wmu   sync.Mutex // guards w
	w     *bufio.Writer
	// writers counts Puts writing or waiting for wmu; the last one flushes, so concurrent
	// Puts share QUIC stream writes instead of one each.
	writers atomic.Int32

	mu      sync.Mutex // guards nextReq, pending, err
	nextReq uint32
	pending map[uint32]chan echo.Frame
	err     error
	done    chan struct{}
	qside   *quicSide
}

// ErrClientClosed is returned for requests on a closed client.
var ErrClientClosed = errors.New("connection to relay closed")

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
	c := &Client{pending: map[uint32]chan echo.Frame{}, done: make(chan struct{})}
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
	c.w = bufio.NewWriterSize(c.s.rw, writeBufSize)
	r := bufio.NewReaderSize(c.s.rw, 32<<10)
	c.write(echo.Hello{Version: echo.Version, Role: echo.RoleClient}.Frame())
	c.s.setDeadline(true, time.Now().Add(HandshakeTimeout))
	f, err := echo.ReadFrame(r, echo.DefaultMaxBlob+echo.MaxFrameExtra)
	if err == nil && f.Type == echo.FrameError {
		if e, perr := echo.ParseErrorFrame(f.Body); perr == nil {
			err = e.Err
		}
	} else if err == nil && f.Type != echo.FrameHello {
		err = fmt.Errorf("%w: relay sent frame type %d before HELLO", echo.ErrMalformed, f.Type)
	}
	if err == nil {
		c.hello, err = echo.ParseHello(f.Body)
	}
	if err != nil {
		c.s.close(0, "")
		c.closeSide()
		return nil, fmt.Errorf("failed to greet relay %s: %w", p.Addr, err)
	}
	c.s.setDeadline(true, time.Time{})
	go c.readLoop(r, int(c.hello.MaxBlob)+echo.MaxFrameExtra)
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

// Hello is the relay's HELLO: its limits and stamp cost.
func (c *Client) Hello() echo.Hello { return c.hello }

// Close ends the link.
func (c *Client) Close() error {
	c.fail(ErrClientClosed)
	c.s.close(0, "")
	c.closeSide()
	return nil
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
}

func (c *Client) write(f echo.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushFrame(f)
}

// flushFrame writes one frame and flushes; the caller holds wmu.
func (c *Client) flushFrame(f echo.Frame) error {
	c.w.Write(echo.AppendFrame(nil, f.Type, f.Body))
	return c.w.Flush()
}

// writeSubmit writes a SUBMIT frame straight into the buffered writer (no frame is built in
// between) and flushes unless another Put is about to write: that one flushes both.
func (c *Client) writeSubmit(req uint32, env []byte) error {
	var hdr [9]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(1+4+len(env)))
	hdr[4] = byte(echo.FrameSubmit)
	binary.BigEndian.PutUint32(hdr[5:], req)
	c.writers.Add(1)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.w.Write(hdr[:])
	_, err := c.w.Write(env)
	if c.writers.Add(-1) == 0 || err != nil {
		if ferr := c.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (c *Client) readLoop(r *bufio.Reader, max int) {
	for {
		f, err := echo.ReadFrame(r, max)
		if err != nil {
			c.fail(fmt.Errorf("connection to relay lost: %w", err))
			c.mu.Lock()
			for _, ch := range c.pending {
				close(ch)
			}
			c.pending = map[uint32]chan echo.Frame{}
			c.mu.Unlock()
			return
		}
		var req uint32
		switch f.Type {
		case echo.FrameAck, echo.FrameError, echo.FrameItem, echo.FrameEnd:
			if len(f.Body) < 4 {
				continue
			}
			req = uint32(f.Body[0])<<24 | uint32(f.Body[1])<<16 | uint32(f.Body[2])<<8 | uint32(f.Body[3])
		case echo.FramePing:
			if nonce, err := echo.ParseNonce(f.Body); err == nil {
				c.wmu.Lock()
				c.flushFrame(echo.PongFrame(nonce))
				c.wmu.Unlock()
			}
			continue
		default:
			continue
		}
		if f.Type == echo.FrameError && req == 0 {
			if e, err := echo.ParseErrorFrame(f.Body); err == nil {
				c.fail(e.Err)
			}
			continue
		}
		c.mu.Lock()
		ch := c.pending[req]
		c.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
}

func (c *Client) register(buf int) (uint32, chan echo.Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, nil, c.err
	}
	c.nextReq++
	if c.nextReq == 0 {
		c.nextReq = 1
	}
	ch := make(chan echo.Frame, buf)
	c.pending[c.nextReq] = ch
	return c.nextReq, ch, nil
}

func (c *Client) unregister(req uint32) {
	c.mu.Lock()
	delete(c.pending, req)
	c.mu.Unlock()
}

func (c *Client) wait(ctx context.Context, ch chan echo.Frame) (echo.Frame, error) {
	select {
	case f, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return f, err
		}
		return f, nil
	case <-ctx.Done():
		return echo.Frame{}, ctx.Err()
	}
}

// Put submits one envelope and waits for the durable ACK. dup is true when the relay had it.
// A refusal is returned as *echo.Error (errors.Is matches the echo sentinels).
func (c *Client) Put(ctx context.Context, env []byte) (id echo.ID, dup bool, err error) {
	req, ch, err := c.register(1)
	if err != nil {
		return id, false, err
	}
	defer c.unregister(req)
	if err := c.writeSubmit(req, env); err != nil {
		return id, false, err
	}
	f, err := c.wait(ctx, ch)
	if err != nil {
		return id, false, err
	}
	switch f.Type {
	case echo.FrameAck:
		a, err := echo.ParseAck(f.Body)
		if err != nil {
			return id, false, err
		}
		return a.ID, a.Status == echo.AckDuplicate, nil
	case echo.FrameError:
		e, err := echo.ParseErrorFrame(f.Body)
		if err != nil {
			return id, false, err
		}
		return id, false, e.Err
	}
	return id, false, fmt.Errorf("%w: unexpected frame %d answering SUBMIT", echo.ErrMalformed, f.Type)
}

// Fetch reads one page of blobs after the cursor (no tags: every blob).
func (c *Client) Fetch(ctx context.Context, tags []echo.Tag, after uint64, limit int) (items []echo.Item, next uint64, more bool, err error) {
	req, ch, err := c.register(echo.FetchPageBlobs + 2)
	if err != nil {
		return nil, 0, false, err
	}
	defer c.unregister(req)
	c.wmu.Lock()
	err = c.flushFrame(echo.Fetch{Req: req, After: after, Limit: uint16(limit), Tags: tags}.Frame())
	c.wmu.Unlock()
	if err != nil {
		return nil, 0, false, err
	}
	for {
		f, err := c.wait(ctx, ch)
		if err != nil {
			return nil, 0, false, err
		}
		switch f.Type {
		case echo.FrameItem:
			it, err := echo.ParseItem(f.Body)
			if err != nil {
				return nil, 0, false, err
			}
			items = append(items, it)
		case echo.FrameEnd:
			e, err := echo.ParseEnd(f.Body)
			if err != nil {
				return nil, 0, false, err
			}
			return items, e.Next, e.More, nil
		case echo.FrameError:
			e, err := echo.ParseErrorFrame(f.Body)
			if err != nil {
				return nil, 0, false, err
			}
			return nil, 0, false, e.Err
		}
	}
}

// Subscribe streams the backlog after the cursor, then new blobs, calling fn for each until ctx
// ends or the link fails. caughtUp, when non-nil, is called once after the backlog.
func (c *Client) Subscribe(ctx context.Context, tags []echo.Tag, after uint64, fn func(echo.Item), caughtUp func()) error {
	req, ch, err := c.register(256)
	if err != nil {
		return err
	}
	defer c.unregister(req)
	c.wmu.Lock()
	err = c.flushFrame(echo.Subscribe{Req: req, After: after, Tags: tags}.Frame())
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	for {
		f, err := c.wait(ctx, ch)
		if err != nil {
			return err
		}
		switch f.Type {
		case echo.FrameItem:
			it, err := echo.ParseItem(f.Body)
			if err != nil {
				return err
			}
			fn(it)
		case echo.FrameEnd:
			if caughtUp != nil {
				caughtUp()
			}
		case echo.FrameError:
			e, err := echo.ParseErrorFrame(f.Body)
			if err != nil {
				return err
			}
			return e.Err
		}
	}
}
