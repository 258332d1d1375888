// Package clientconn is the client side of the echorelay protocol (PROTOCOL.md sections 3 and
// 5: HELLO, SUBMIT, FETCH, SUBSCRIBE, PING) on one ordered byte stream, whatever carries it.
//
// Who calls it: peers.Client wraps it around a QUIC stream or a TCP+TLS connection (the CLI),
// and the browser build of the web client (internal/web/wasm) around a WebSocket
// (internal/web's transport). It builds for GOOS=js GOARCH=wasm: it imports no network code,
// only io and the frame codec of package echo.
//
// What it deliberately does not do: dial, authenticate the relay (the carrier does: TLS with
// the node certificate, or the page's origin for a WebSocket), stamp envelopes, or retry.
// Requests are pipelined on the one stream: each gets a request number, answers are matched
// to it by the reader goroutine, and concurrent Puts share flushes.
package clientconn

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// ErrClosed is returned for requests on a closed connection.
var ErrClosed = errors.New("connection to relay closed")

// DefaultHandshakeTimeout bounds the wait for the relay's HELLO when Options leave it zero.
const DefaultHandshakeTimeout = 10 * time.Second

// Buffer sizes: one write buffer holds a few small frames or streams a large SUBMIT through;
// the read buffer is what a frame header and a small body need (large bodies are read whole
// by echo.ReadFrame).
const (
	writeBufSize = 64 << 10
	readBufSize  = 32 << 10
)

// Options describe the stream under a Conn.
type Options struct {
	// Close tears the stream down; it is called once, by Close or when the handshake fails.
	Close func() error
	// SetReadDeadline, when set, bounds the handshake read. Without it a timer calls Close
	// when the relay's HELLO does not come within HandshakeTimeout.
	SetReadDeadline func(t time.Time) error
	// HandshakeTimeout bounds the wait for the relay's HELLO (0: DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// Name is the relay as errors name it (its address), "" for none.
	Name string
}

// Conn speaks the client side of the protocol on one stream. Its methods are safe for
// concurrent use.
type Conn struct {
	closeFn   func() error
	closeOnce sync.Once
	hello     echo.Hello

	wmu sync.Mutex // guards w
	w   *bufio.Writer
	// writers counts Puts writing or waiting for wmu; the last one flushes, so concurrent
	// Puts share stream writes instead of one each.
	writers atomic.Int32

	mu      sync.Mutex // guards nextReq, pending, err
	nextReq uint32
	pending map[uint32]chan echo.Frame
	err     error
	done    chan struct{}
}

// Open sends the client's HELLO on rw, waits for the relay's and starts the reader. On an
// error the stream is closed.
func Open(ctx context.Context, rw io.ReadWriter, opts Options) (*Conn, error) {
	if opts.Close == nil {
		opts.Close = func() error { return nil }
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	c := &Conn{closeFn: opts.Close, pending: map[uint32]chan echo.Frame{}, done: make(chan struct{}),
		w: bufio.NewWriterSize(rw, writeBufSize)}
	r := bufio.NewReaderSize(rw, readBufSize)

	// The stream is closed when the handshake outlives its deadline or ctx; a deadline on the
	// stream itself is used as well where the stream has one.
	hctx, cancel := context.WithTimeout(ctx, timeout)
	stop := context.AfterFunc(hctx, func() { c.closeStream() })
	if opts.SetReadDeadline != nil {
		opts.SetReadDeadline(time.Now().Add(timeout))
	}
	err := c.write(echo.Hello{Version: echo.Version, Role: echo.RoleClient}.Frame())
	var f echo.Frame
	if err == nil {
		f, err = echo.ReadFrame(r, echo.DefaultMaxBlob+echo.MaxFrameExtra)
	}
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
	if !stop() { // the deadline or ctx fired and closed the stream: that is the reason
		err = hctx.Err()
	}
	cancel()
	if err != nil {
		c.closeStream()
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
		if opts.Name != "" {
			return nil, fmt.Errorf("failed to greet relay %s: %w", opts.Name, err)
		}
		return nil, fmt.Errorf("failed to greet relay: %w", err)
	}
	if opts.SetReadDeadline != nil {
		opts.SetReadDeadline(time.Time{})
	}
	go c.readLoop(r, int(c.hello.MaxBlob)+echo.MaxFrameExtra)
	return c, nil
}

// Hello is the relay's HELLO: its limits and stamp cost.
func (c *Conn) Hello() echo.Hello { return c.hello }

// Done is closed when the connection has failed or was closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, nil while it is up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection and its stream. Idempotent.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	c.closeStream()
	return nil
}

func (c *Conn) closeStream() {
	c.closeOnce.Do(func() { c.closeFn() })
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
}

func (c *Conn) write(f echo.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushFrame(f)
}

// flushFrame writes one frame and flushes; the caller holds wmu.
func (c *Conn) flushFrame(f echo.Frame) error {
	c.w.Write(echo.AppendFrame(nil, f.Type, f.Body))
	return c.w.Flush()
}

// writeSubmit writes a SUBMIT frame straight into the buffered writer (no frame is built in
// between) and flushes unless another Put is about to write: that one flushes both.
func (c *Conn) writeSubmit(req uint32, env []byte) error {
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

func (c *Conn) readLoop(r *bufio.Reader, max int) {
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
			req = binary.BigEndian.Uint32(f.Body)
		case echo.FramePing:
			if nonce, err := echo.ParseNonce(f.Body); err == nil {
				c.write(echo.PongFrame(nonce))
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

func (c *Conn) register(buf int) (uint32, chan echo.Frame, error) {
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

func (c *Conn) unregister(req uint32) {
	c.mu.Lock()
	delete(c.pending, req)
	c.mu.Unlock()
}

func (c *Conn) wait(ctx context.Context, ch chan echo.Frame) (echo.Frame, error) {
	select {
	case f, ok := <-ch:
		if !ok {
			return f, c.Err()
		}
		return f, nil
	case <-ctx.Done():
		return echo.Frame{}, ctx.Err()
	}
}

// Put submits one envelope and waits for the durable ACK. dup is true when the relay had it.
// A refusal is returned as *echo.Error (errors.Is matches the echo sentinels).
func (c *Conn) Put(ctx context.Context, env []byte) (id echo.ID, dup bool, err error) {
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
func (c *Conn) Fetch(ctx context.Context, tags []echo.Tag, after uint64, limit int) (items []echo.Item, next uint64, more bool, err error) {
	req, ch, err := c.register(echo.FetchPageBlobs + 2)
	if err != nil {
		return nil, 0, false, err
	}
	defer c.unregister(req)
	if err := c.write(echo.Fetch{Req: req, After: after, Limit: uint16(limit), Tags: tags}.Frame()); err != nil {
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
func (c *Conn) Subscribe(ctx context.Context, tags []echo.Tag, after uint64, fn func(echo.Item), caughtUp func()) error {
	req, ch, err := c.register(256)
	if err != nil {
		return err
	}
	defer c.unregister(req)
	if err := c.write(echo.Subscribe{Req: req, After: after, Tags: tags}.Frame()); err != nil {
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
