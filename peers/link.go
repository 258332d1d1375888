package peers

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/quic-go/quic-go"
)

// Queue sizes and deadlines of one link. A link holds at most Window envelopes in flight to
// the store, QueueBlobs/QueueBytes of floods waiting for a slow neighbour (then drops and
// counts), and OutDepth reliable frames of at most OutBytes together (fetch pages, pushes to
// subscriptions, answers to a neighbour's WANTs; whoever produces them waits when it is full,
// which slows only that link: 64 WANTed blobs of 2 MiB would otherwise sit in memory at once
// for a neighbour that reads slowly).
const (
	Window           = 256
	QueueBlobs       = 4096
	QueueBytes       = 16 << 20
	OutDepth         = 64
	OutBytes         = 8 << 20
	HandshakeTimeout = 10 * time.Second // TLS plus HELLO must complete within this
	WriteTimeout     = 30 * time.Second // a frame write stalled this long closes the link
	// finalWriteTimeout bounds writing a link-level ERROR before closing, and on QUIC the wait
	// for the peer to take it before the connection is closed.
	finalWriteTimeout = time.Second
	maxSubscriptions  = 4
	writeBufSize      = 64 << 10
	readBufSize       = 4 << 10 // a link's read buffer, held while it waits; larger bodies bypass it
	// oversizeSkipLimit bounds how much of an oversized SUBMIT a relay reads to discard it.
	oversizeSkipLimit = 64 << 20
)

// stream is one transport connection's byte stream as a link sees it.
type stream struct {
	rw          io.ReadWriter
	close       func(code uint64, reason string)
	setDeadline func(read bool, t time.Time) error
	remote      net.Addr
	peerFP      string // fingerprint of the certificate the other side presented, or ""
	transport   string // "quic" or "tls"
	tls         tls.ConnectionState
}

type outFrame struct {
	prefix  []byte
	body    []byte
	t       echo.FrameType
	ack     bool  // releases a window slot once written
	charged int64 // bytes of the memory budget it holds until written (budget.go)
}

// link runs one connection: a reader goroutine, a writer goroutine, bounded queues between.
type link struct {
	node   *Node
	s      stream
	dialed *Peer // the peers-file line we dialed, nil for inbound links

	neighbour string // fingerprint once recognised as a neighbour relay
	// stranger is set (after hello) for a relay that is not a neighbour: a peers-file reload
	// that lists it closes the link (recheckStrangers).
	stranger atomic.Bool
	hello    echo.Hello
	recon    *reconLink // set reconciliation, when both sides offer it (reconcile.go)

	acks     chan outFrame // ACK/ERROR for SUBMITs; capacity Window, never blocks
	final    chan outFrame // the link-level ERROR of fatal, written last
	flushed  chan struct{} // closed once final is flushed
	out      chan outFrame // reliable frames produced by the reader and subscriptions
	outBytes atomic.Int64  // bytes of the frames in out
	outRoom  chan struct{} // a token when the writer took a frame off out
	blobs    floodQueue    // floods to a neighbour; dropped when full
	qbytes   atomic.Int64
	took     atomic.Int64 // unix nanoseconds when the writer last took a BLOB off the queue (pace.go)
	slow     atomic.Bool  // the queue drained slower than one blob per PaceSlow (pace.go)
	winStart int64        // drain-rate window (pace.go); writer goroutine only
	winN     int64
	window   chan struct{}

	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	closed    chan struct{}
	subs      atomic.Int32
	since     time.Time
	in, outN  atomic.Int64
	reason    atomic.Value // string: why it closed

	mem linkMem // what it holds of the node's memory budget (budget.go)

	// Owned by the reader goroutine.
	handed     bool   // the frame being handled went to the store, which gives its bytes back
	blobBucket bucket // a neighbour's BLOB frames (limits.go)
	phase      string // what the current read deadline guards: its close reason on expiry
	progress   *frameProgress
}

func newLink(n *Node, s stream, dialed *Peer) *link {
	ctx, cancel := context.WithCancel(n.ctx)
	return &link{node: n, s: s, dialed: dialed, ctx: ctx, cancel: cancel,
		acks: make(chan outFrame, Window), out: make(chan outFrame, OutDepth), outRoom: make(chan struct{}, 1),
		blobs: newFloodQueue(), window: make(chan struct{}, Window),
		final: make(chan outFrame, 1), flushed: make(chan struct{}),
		closed: make(chan struct{}), since: time.Now()}
}

// Neighbour implements echo.Link.
func (l *link) Neighbour() string { return l.neighbour }

// Kind implements echo.Link: a relay link once recognised as a configured neighbour, else a
// client link (clients, and relays not in the peers file).
func (l *link) Kind() echo.LinkKind {
	if l.neighbour != "" {
		return echo.LinkRelay
	}
	return echo.LinkClient
}

// Source implements echo.Link: the client address (IPv6 by its /64), or the neighbour's key.
func (l *link) Source() string {
	if l.neighbour != "" {
		return "n:" + l.neighbour
	}
	return "c:" + clientKey(l.s.remote).String()
}

// SendBlob implements echo.Link: queue a BLOB without blocking.
func (l *link) SendBlob(env []byte) bool {
	if l.qbytes.Load()+int64(len(env)) > l.node.cfg.QueueBytes {
		return false
	}
	if !l.blobs.push(outFrame{t: echo.FrameBlob, body: env}, QueueBlobs) {
		return false
	}
	l.qbytes.Add(int64(len(env)))
	return true
}

// send queues a reliable frame, waiting while the queue is full: OutDepth frames, or OutBytes
// (a frame larger than that still goes alone into an empty queue).
func (l *link) send(f outFrame) error { return l.sendCovered(f, 0) }

// sendCovered is send for a frame of which covered bytes are already charged to the memory
// budget (a fetch page's, handed over); the rest is charged here, and all of it is given back
// once the frame is written.
func (l *link) sendCovered(f outFrame, covered int64) error {
	n := int64(len(f.prefix) + len(f.body))
	limit := int64(OutBytes)
	if l.neighbour == "" {
		limit = ClientOutBytes
	}
	for {
		q := l.outBytes.Load()
		if q == 0 || q+n <= limit {
			break
		}
		select {
		case <-l.outRoom:
		case <-l.closed:
			l.unchargeOut(covered)
			return net.ErrClosed
		}
	}
	if err := l.chargeOut(n - covered); err != nil {
		l.unchargeOut(covered)
		return err
	}
	f.charged = n
	l.outBytes.Add(n)
	select {
	case l.out <- f:
		return nil
	case <-l.closed:
		l.outBytes.Add(-n)
		l.unchargeOut(n)
		return net.ErrClosed
	}
}

// sendError answers request req with an ERROR frame.
func (l *link) sendError(req uint32, err error) error {
	return l.send(l.frame(echo.ErrorFrame{Req: req, Err: echo.AsError(err)}.Frame()))
}

// tookOut runs in the writer for each frame it takes off out.
func (l *link) tookOut(f outFrame) {
	l.outBytes.Add(-int64(len(f.prefix) + len(f.body)))
	select {
	case l.outRoom <- struct{}{}:
	default:
	}
}

func (l *link) frame(f echo.Frame) outFrame { return outFrame{t: f.Type, body: f.Body} }

// run serves the link until it closes; it returns the reason.
func (l *link) run() string {
	go l.writeLoop(l.frame(l.node.hello().Frame()))
	err := l.readLoop()
	l.close(err)
	return l.reason.Load().(string)
}

func (l *link) close(err error) {
	l.closeOnce.Do(func() {
		reason := "closed"
		code := uint64(0)
		var cr *closeReason
		switch {
		case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, context.Canceled):
		case errors.As(err, &cr):
			reason = cr.Error()
			// A named close after an ERROR this node sent (key_changed): QUIC waits for the
			// peer to take it (quicStream). A peer_error's is the one the peer sent.
			if pe := (*echo.Error)(nil); cr.name != "peer_error" && errors.As(cr.err, &pe) {
				code = uint64(pe.Code)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			reason = "timeout"
		default:
			var pe *echo.Error
			if errors.As(err, &pe) {
				reason = pe.Code.String()
				code = uint64(pe.Code)
			} else {
				reason = err.Error()
			}
		}
		l.node.abuse.closed(closeCategory(err))
		l.reason.Store(reason)
		l.releaseAll()
		if l.neighbour != "" {
			l.node.release(l)
			l.node.pace.remove(l)
		}
		l.cancel()
		close(l.closed)
		l.s.close(code, reason)
	})
}

// fatal sends a link-level ERROR, then closes.
// The writer goroutine writes it after the frame in progress (frames still queued are dropped),
// and fatal waits at most finalWriteTimeout for it to be flushed.
func (l *link) fatal(err error) error {
	pe := echo.AsError(err)
	l.node.relay.Reject(pe.Code)
	select {
	case l.final <- l.frame(echo.ErrorFrame{Req: 0, Err: pe}.Frame()):
	default:
		return err
	}
	t := time.NewTimer(finalWriteTimeout)
	defer t.Stop()
	select {
	case <-l.flushed:
	case <-l.closed:
	case <-t.C:
	}
	return err
}

func (l *link) readLoop() error {
	l.progress = &frameProgress{r: l.s.rw, setDeadline: l.s.setDeadline, grace: l.node.cfg.FrameTimeout}
	r := bufio.NewReaderSize(l.progress, readBufSize)
	max := l.node.relay.Limits().MaxFrame()
	l.phase = "handshake_timeout"
	l.s.setDeadline(true, time.Now().Add(l.node.cfg.HandshakeTimeout))
	n, err := l.chargeFrame(r, max)
	if err != nil {
		return l.readErr(err)
	}
	f, err := echo.ReadFrame(r, max)
	l.uncharge(n)
	if err != nil {
		if errors.Is(err, echo.ErrMalformed) {
			return l.fatal(err)
		}
		return l.readErr(err)
	}
	if f.Type != echo.FrameHello {
		return l.fatal(fmt.Errorf("%w: first frame must be HELLO", echo.ErrMalformed))
	}
	if len(f.Body) >= 2 && binary.BigEndian.Uint16(f.Body) != echo.Version {
		return l.fatal(fmt.Errorf("%w: peer speaks version %d, we speak %d", echo.ErrUnsupportedVersion, binary.BigEndian.Uint16(f.Body), echo.Version))
	}
	h, err := echo.ParseHello(f.Body)
	if err != nil {
		return l.fatal(err)
	}
	l.hello = h
	if err := l.node.admit(l); err != nil {
		if err == errDuplicateLink {
			return err // both sides close it; nothing to tell the other
		}
		if cr := (*closeReason)(nil); errors.As(err, &cr) && cr.err != nil {
			l.fatal(cr.err) // the other side is told the reason; the close counts its name
			return err
		}
		return l.fatal(err)
	}
	l.resetSource() // a neighbour now: charged by its key from here on
	for {
		if err := l.awaitFrame(r); err != nil {
			return l.readErr(err)
		}
		if skipped, err := l.skipOversizedSubmit(r, max); err != nil {
			return l.readErr(err)
		} else if skipped {
			continue
		}
		n, err := l.chargeFrame(r, max)
		if err != nil {
			return l.readErr(err)
		}
		f, err := echo.ReadFrame(r, max)
		if err != nil {
			l.uncharge(n)
			if errors.Is(err, echo.ErrMalformed) {
				return l.fatal(err)
			}
			return l.readErr(err)
		}
		l.handed = false
		err = l.handle(f, n)
		if !l.handed {
			l.uncharge(n)
		}
		if err != nil {
			return err
		}
	}
}

// chargeFrame charges the frame whose header is next in r to the memory budget before its
// body is read: what the header announces, when it is within max (a longer one is refused by
// ReadFrame without allocating). Waiting for the budget, the link reads nothing. ReadFrame
// holds no more than the charge while the body arrives (pooled chunks, echo/chunk.go).
func (l *link) chargeFrame(r *bufio.Reader, max int) (int64, error) {
	hdr, err := r.Peek(4)
	if err != nil {
		return 0, nil // ReadFrame reports it
	}
	n := int64(binary.BigEndian.Uint32(hdr))
	if n == 0 || n > int64(max) {
		return 0, nil
	}
	n += 4
	return n, l.charge(n)
}

// skipOversizedSubmit reads and discards a SUBMIT longer than max_frame (up to
// oversizeSkipLimit) and answers too_large for its request, keeping the link (PROTOCOL.md
// section 3). Anything else longer than max_frame stays fatal.
func (l *link) skipOversizedSubmit(r *bufio.Reader, max int) (bool, error) {
	hdr, err := r.Peek(5)
	if err != nil {
		return false, nil // ReadFrame reports it
	}
	n := binary.BigEndian.Uint32(hdr)
	if uint64(n) <= uint64(max) || echo.FrameType(hdr[4]) != echo.FrameSubmit || n > oversizeSkipLimit {
		return false, nil
	}
	hdr, err = r.Peek(9)
	if err != nil {
		return false, noEOF(err)
	}
	req := binary.BigEndian.Uint32(hdr[5:])
	if _, err := r.Discard(4 + int(n)); err != nil {
		return false, noEOF(err)
	}
	l.node.relay.Reject(echo.CodeTooLarge)
	if err := l.acquire(); err != nil {
		return false, err
	}
	e := fmt.Errorf("%w: %d bytes, the limit is %d", echo.ErrTooLarge, n-5, l.node.relay.Limits().MaxBlob)
	l.acks <- l.frame(echo.ErrorFrame{Req: req, Err: echo.AsError(e)}.Frame()).withAck()
	return true, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (l *link) acquire() error {
	select {
	case l.window <- struct{}{}:
		return nil
	case <-l.closed:
		return net.ErrClosed
	}
}

// handle serves one frame; charged is its bytes of the memory budget, which the store's answer
// gives back for BLOB and SUBMIT (l.handed), the reader otherwise.
func (l *link) handle(f echo.Frame, charged int64) error {
	relay := l.node.relay
	switch f.Type {
	case echo.FrameBlob:
		if l.neighbour == "" {
			return l.fatal(echo.ErrNotNeighbour)
		}
		l.in.Add(1)
		if err := l.throttle(); err != nil {
			return err
		}
		if err := l.acquire(); err != nil {
			return err
		}
		l.handed = true
		relay.Accept(f.Body, l, func(id echo.ID, inserted bool, err error) {
			l.uncharge(charged)
			<-l.window
			if err != nil {
				l.node.log.Debug("dropped blob from neighbour", "id", id.Short(), "reason", echo.CodeOf(err).String())
			}
		})
	case echo.FrameSubmit:
		s, err := echo.ParseSubmit(f.Body)
		if err != nil {
			return l.fatal(err)
		}
		if err := l.acquire(); err != nil {
			return err
		}
		if err := l.node.admitSubmit(l, s.Envelope); err != nil {
			// A refusal before the store (rate limit, stamp): answered, the link stays.
			relay.Reject(echo.CodeOf(err))
			l.acks <- l.frame(echo.ErrorFrame{Req: s.Req, Err: echo.AsError(err)}.Frame()).withAck()
			return nil
		}
		l.node.pace.admit(l, len(s.Envelope))
		l.handed = true
		relay.Accept(s.Envelope, l, func(id echo.ID, inserted bool, err error) {
			l.uncharge(charged)
			l.node.pace.done(len(s.Envelope))
			var fr echo.Frame
			if err != nil {
				fr = echo.ErrorFrame{Req: s.Req, Err: echo.AsError(err)}.Frame()
			} else {
				st := uint8(echo.AckStored)
				if !inserted {
					st = echo.AckDuplicate
				}
				fr = echo.Ack{Req: s.Req, ID: id, Status: st}.Frame()
			}
			l.acks <- l.frame(fr).withAck()
		})
	case echo.FrameFetch:
		q, err := echo.ParseFetch(f.Body)
		if err != nil {
			return l.fatal(err)
		}
		if err := l.node.admitFetch(l); err != nil {
			return l.sendError(q.Req, err)
		}
		return l.fetchPage(q.Req, q.Tags, q.After, int(q.Limit))
	case echo.FrameSubscribe:
		q, err := echo.ParseSubscribe(f.Body)
		if err != nil {
			return l.fatal(err)
		}
		if err := l.node.admitFetch(l); err != nil {
			return l.sendError(q.Req, err)
		}
		if l.subs.Add(1) > maxSubscriptions {
			l.subs.Add(-1)
			return l.sendError(q.Req, &echo.Error{Code: echo.CodeRateLimited, Msg: "too many subscriptions on one link"})
		}
		go l.subscribe(q)
	case echo.FramePing:
		nonce, err := echo.ParseNonce(f.Body)
		if err != nil {
			return l.fatal(err)
		}
		return l.send(l.frame(echo.PongFrame(nonce)))
	case echo.FrameRecon, echo.FrameWant, echo.FrameWantEnd:
		if l.neighbour == "" {
			relay.Reject(echo.CodeNotNeighbour)
			return l.fatal(echo.ErrNotNeighbour)
		}
		if l.recon != nil { // else we did not offer it: skipped like an unknown type
			return l.recon.handle(f)
		}
	case echo.FrameHello:
		return l.fatal(fmt.Errorf("%w: second HELLO", echo.ErrMalformed))
	case echo.FrameError:
		if e, err := echo.ParseErrorFrame(f.Body); err == nil && e.Req == 0 {
			return &closeReason{"peer_error", fmt.Errorf("peer closed the link: %w", e.Err)}
		}
	default:
		// PONG, and frame types of later versions: skipped (PROTOCOL.md section 3).
	}
	return nil
}

func (o outFrame) withAck() outFrame { o.ack = true; return o }

func (l *link) fetchPage(req uint32, tags []echo.Tag, after uint64, limit int) error {
	next, more, err, sendErr := l.page(req, tags, after, limit)
	if sendErr != nil {
		return sendErr
	}
	if err != nil {
		l.node.log.Warn("fetch failed", "err", err)
		return l.sendError(req, fmt.Errorf("%w: fetch failed", echo.ErrInternal))
	}
	return l.send(l.frame(echo.End{Req: req, Next: next, More: more}.Frame()))
}

// page reads one page from the store and queues its items. The page is charged to the memory
// budget before the store is read (its byte bound plus one largest frame, which a page may
// exceed it by), and each item takes its share of that charge to the output queue; what is
// left is given back at the end.
func (l *link) page(req uint32, tags []echo.Tag, after uint64, limit int) (next uint64, more bool, err, sendErr error) {
	pageBytes := ClientPageBytes
	if l.neighbour != "" {
		pageBytes = echo.FetchPageBytes
	}
	left := int64(pageBytes + l.node.relay.Limits().MaxFrame() + 5)
	if err := l.chargeOut(left); err != nil {
		return 0, false, nil, err
	}
	next, more, err = l.node.relay.FetchBytes(tags, after, limit, pageBytes, func(seq uint64, env []byte) {
		if sendErr != nil {
			return
		}
		// The envelope is the store's fresh copy: it goes out as it is, behind its 12-byte ITEM
		// prefix (req u32 || seq u64), not copied into one more frame-sized buffer (which the
		// budget did not count, and which doubled what a page allocates).
		f := outFrame{t: echo.FrameItem, prefix: binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(make([]byte, 0, 12), req), seq), body: env}
		covered := min(left, int64(len(f.prefix)+len(f.body)))
		left -= covered
		sendErr = l.sendCovered(f, covered)
	})
	l.unchargeOut(left)
	return next, more, err, sendErr
}

func (l *link) subscribe(q echo.Subscribe) {
	defer l.subs.Add(-1)
	wake, stop := l.node.relay.Watch()
	defer stop()
	cursor, first := q.After, true
	for {
		next, more, err, sendErr := l.page(q.Req, q.Tags, cursor, 0)
		if sendErr != nil || err != nil {
			return
		}
		cursor = next
		if more {
			continue
		}
		if first {
			first = false
			if l.send(l.frame(echo.End{Req: q.Req, Next: next}.Frame())) != nil {
				return
			}
		}
		select {
		case <-wake:
		case <-l.closed:
			return
		}
	}
}

// writeLoop writes first (the HELLO), then frames from the queues until the link closes or a
// final frame (a link-level ERROR from fatal) has been written and flushed.
func (l *link) writeLoop(first outFrame) {
	fw := frameWriter{w: l.s.rw}
	put := func(f outFrame, timeout time.Duration) error {
		l.s.setDeadline(false, time.Now().Add(timeout))
		return fw.frame(f)
	}
	writeFinal := func(f outFrame) {
		if put(f, finalWriteTimeout) == nil {
			fw.flush()
		}
		close(l.flushed)
	}
	f := first
	for {
		if err := put(f, l.node.cfg.WriteTimeout); err != nil {
			l.close(writeErr(err))
			return
		}
		l.unchargeOut(f.charged)
		if f.t == echo.FrameBlob {
			l.outN.Add(1)
		}
		if f.ack {
			<-l.window
		}
		if len(l.acks) == 0 && len(l.out) == 0 && l.blobs.len() == 0 {
			// Nothing else waits: send what is buffered, and hand the buffer back while idle.
			if err := fw.flush(); err != nil {
				l.close(writeErr(err))
				return
			}
		}
		// Next: ACKs and reliable frames before floods, the final ERROR as soon as it is queued.
		for {
			select {
			case f = <-l.acks:
			case f = <-l.out:
				l.tookOut(f)
			case f = <-l.final:
				writeFinal(f)
				return
			default:
				if b, ok := l.blobs.pop(); ok {
					f = b
					l.qbytes.Add(-int64(len(f.body)))
					l.node.pace.drained(l)
					break
				}
				select {
				case f = <-l.acks:
				case f = <-l.out:
					l.tookOut(f)
				case <-l.blobs.ready:
					continue
				case f = <-l.final:
					writeFinal(f)
					return
				case <-l.closed:
					return
				}
			}
			break
		}
	}
}

// writeBufs lends write buffers to links with frames to send: an idle link holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, writeBufSize); return &b }}

// frameWriter frames outFrames into a buffer borrowed from writeBufs and writes it to w in
// pieces of up to writeBufSize; a body too large for the buffer is written straight through.
type frameWriter struct {
	w   io.Writer
	buf *[]byte // nil while idle
}

func (fw *frameWriter) frame(f outFrame) error {
	if fw.buf == nil {
		fw.buf = writeBufs.Get().(*[]byte)
	}
	b := *fw.buf
	n := 5 + len(f.prefix) + len(f.body)
	if len(b) > 0 && len(b)+n > cap(b) {
		if _, err := fw.w.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	b = binary.BigEndian.AppendUint32(b, uint32(1+len(f.prefix)+len(f.body)))
	b = append(b, byte(f.t))
	b = append(b, f.prefix...)
	if n <= cap(b) {
		*fw.buf = append(b, f.body...)
		return nil
	}
	*fw.buf = b[:0]
	_, err := fw.w.Write(b)
	// The body goes straight through, and a peer that does not read keeps the writer blocked
	// in it: without giving the buffer back first, 200 such links held 12.5 MiB of buffers
	// outside the memory budget (scripts/hostile fetch-no-read).
	writeBufs.Put(fw.buf)
	fw.buf = nil
	if err != nil {
		return err
	}
	_, err = fw.w.Write(f.body)
	return err
}

// flush writes what is buffered and returns the buffer to writeBufs.
func (fw *frameWriter) flush() error {
	if fw.buf == nil {
		return nil
	}
	var err error
	if b := *fw.buf; len(b) > 0 {
		_, err = fw.w.Write(b)
	}
	*fw.buf = (*fw.buf)[:0]
	writeBufs.Put(fw.buf)
	fw.buf = nil
	return err
}

// awaitFrame sets the read deadline for the next frame. While waiting for its first byte: none
// on a neighbour link or a client link with a subscription, IdleTimeout on other client links.
// Once it has begun, the frame has FrameTimeout (its grace), and then its bytes must keep
// arriving at MinFrameRate (frameProgress): the deadline grows with what arrives, never with
// what the header announces, so a frame announced large and sent slowly (slowloris) closes the
// link within seconds of falling behind.
func (l *link) awaitFrame(r *bufio.Reader) error {
	cfg := &l.node.cfg
	p := l.progress
	p.on = false
	if r.Buffered() == 0 {
		if l.neighbour == "" && l.subs.Load() == 0 {
			l.phase = "idle"
			l.s.setDeadline(true, time.Now().Add(cfg.IdleTimeout))
		} else {
			l.s.setDeadline(true, time.Time{})
		}
		if _, err := r.Peek(1); err != nil {
			return err
		}
	}
	l.phase = "frame_timeout"
	p.start, p.got, p.on = time.Now(), int64(r.Buffered()), true
	return l.s.setDeadline(true, p.deadline())
}

// frameProgress sits between a link's stream and its buffered reader and, while a frame is
// being read, moves the read deadline out by one second per MinFrameRate bytes that arrive.
// Only the link's reading goroutine touches it.
type frameProgress struct {
	r           io.Reader
	setDeadline func(read bool, t time.Time) error
	grace       time.Duration
	on          bool      // a frame has begun
	start       time.Time // when its first byte was seen
	got         int64     // its bytes (and those after it) received since
}

func (p *frameProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 && p.on {
		p.got += int64(n)
		p.setDeadline(true, p.deadline())
	}
	return n, err
}

func (p *frameProgress) deadline() time.Time {
	return p.start.Add(p.grace + time.Duration(p.got)*time.Second/MinFrameRate)
}

// closeReason names why a link ended, for the counters of closes by reason.
type closeReason struct {
	name string
	err  error
}

func (c *closeReason) Error() string { return c.name }
func (c *closeReason) Unwrap() error { return c.err }

// readErr names a read deadline's expiry after what it guarded.
func (l *link) readErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &closeReason{l.phase, err}
	}
	return err
}

func writeErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &closeReason{"write_timeout", err}
	}
	return &closeReason{"write_failed", err}
}

// closeCategory is the counted reason of a link's end: a short fixed name, never an address.
func closeCategory(err error) string {
	var cr *closeReason
	var pe *echo.Error
	var qa *quic.ApplicationError
	var qi *quic.IdleTimeoutError
	switch {
	case err == nil, errors.Is(err, net.ErrClosed), errors.Is(err, context.Canceled):
		return "local_close"
	case errors.As(err, &cr):
		if cr.name == "write_failed" && errors.Is(err, net.ErrClosed) {
			return "local_close"
		}
		return cr.name
	case errors.Is(err, io.EOF):
		return "peer_close"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case errors.As(err, &pe):
		return pe.Code.String()
	case errors.As(err, &qa):
		return "peer_close"
	case errors.As(err, &qi), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	return "io_error"
}
