package peers

import (
	"bufio"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// The writer of an Echo link (PROTOCOL.md sections 10.5 and 10.6): keep-alives, the settle
// time, catch-ups from the store and live floods, on one goroutine that owns the socket's write
// side.
//
//	connect ──► settling (capabilities only) ──► catch-up (Full lines) ──► live ◄─┐
//	                                                                      │ drop │
//	                                                                      └► catch-up

// echoWriter is the writer's side of a link: the buffered socket and the keep-alive timer.
type echoWriter struct {
	l    *echoLink
	w    *bufio.Writer
	keep *time.Timer
	msg  []byte
	// The position sample (echobacklog.go): the store's last seq when the queue was last
	// empty, and when.
	sample   uint64
	sampleAt time.Time
}

func (l *echoLink) writeLoop() {
	ew := &echoWriter{l: l, w: bufio.NewWriterSize(l.c, writeBufSize), keep: time.NewTimer(0)}
	defer ew.keep.Stop()
	settled := time.NewTimer(l.settle)
	defer settled.Stop()
	// Settling: capabilities only; floods wait in the queue.
	for wait := true; wait; {
		select {
		case <-settled.C:
			wait = false
		case <-ew.keep.C:
			if !ew.keepAlive() {
				return
			}
		case <-l.closed:
			return
		}
	}
	if l.line != nil && !ew.catchUp(true) {
		return
	}
	for {
		select {
		case env := <-l.out:
			l.qbytes.Add(-int64(len(env)))
			if !ew.blob(env, false) {
				return
			}
			if len(l.out) > 0 {
				continue
			}
			if err := ew.flush(); err != nil {
				return
			}
			if l.line != nil {
				if l.dropped.Load() && !ew.catchUp(false) {
					return
				}
				ew.idle()
			}
		case <-ew.keep.C:
			if !ew.keepAlive() {
				return
			}
			if l.line != nil && len(l.out) == 0 {
				ew.idle()
			}
		case <-l.closed:
			return
		}
	}
}

// write sends one message and restarts the keep-alive interval; false closes the link.
func (ew *echoWriter) write(msg []byte) bool {
	ew.l.c.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if _, err := ew.w.Write(msg); err != nil {
		ew.l.close()
		return false
	}
	ew.keep.Reset(ew.l.every)
	return true
}

func (ew *echoWriter) flush() error {
	ew.l.c.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if err := ew.w.Flush(); err != nil {
		ew.l.close()
		return err
	}
	return nil
}

// keepAlive sends our capabilities: the lane width is the largest message we send or accept.
func (ew *echoWriter) keepAlive() bool {
	l := ew.l
	ew.msg = echo.AppendEchoMessage(ew.msg[:0], echo.EchoTypeCapabilities,
		echo.EchoCapabilities(l.n.echoUUID(), echo.EchoMaxMessage(l.n.relay.Limits().MaxBlob), !l.half))
	return ew.write(ew.msg) && ew.flush() == nil
}

// blob sends one envelope's payload as an Echo message, unless the neighbour already has it or
// it exceeds the neighbour's lane width.
func (ew *echoWriter) blob(env []byte, backlog bool) bool {
	l := ew.l
	if l.line != nil {
		if id := echo.BlobID(env); l.line.from.has(id) || !l.sent.add(id) {
			return true
		}
	}
	e, err := echo.ParseEnvelope(env)
	if err != nil {
		return true
	}
	ew.msg = echo.AppendEchoPayload(ew.msg[:0], e.Payload)
	if lane := l.peerLane.Load(); lane > 0 && int64(len(ew.msg)) > lane {
		l.n.echo.TooWide.Add(1)
		return true
	}
	l.n.echoState.mark(echo.EchoWireDigest(ew.msg), e.Expiry)
	l.n.echo.DataOut.Add(1)
	if backlog {
		l.n.echo.BacklogOut.Add(1)
	}
	l.outN.Add(1)
	return ew.write(ew.msg)
}

// catchUp sends what the store holds after the line's position, page by page, until a pass
// ends with nothing dropped meanwhile; first is the catch-up after connecting.
func (ew *echoWriter) catchUp(first bool) bool {
	l := ew.l
	last, _ := l.n.relay.LastSeq()
	if first {
		if pos, stale := l.line.start(last, time.Now(), l.n.echoTTL()); stale {
			l.n.log.Info("echo neighbour was away longer than --echo-ttl; its backlog starts at the newest blob", "peer", l.name(), "position", pos)
		}
	}
	for pass := 0; pass < 8; pass++ {
		l.dropped.Store(false)
		after := l.line.position()
		for {
			var envs [][]byte
			next, more, err := l.n.relay.FetchBytes(nil, after, echoCatchUpPage, echoCatchUpBytes, func(_ uint64, env []byte) {
				envs = append(envs, env)
			})
			if err != nil {
				l.n.log.Warn("echo backlog read failed", "peer", l.name(), "err", err)
				return true // live floods go on; the next drop or link retries
			}
			for _, env := range envs {
				select {
				case <-l.closed:
					return false
				default:
				}
				if !ew.blob(env, true) {
					return false
				}
			}
			if err := ew.flush(); err != nil {
				return false
			}
			if next > after {
				l.line.advance(next, time.Now())
				after = next
			}
			l.line.save(time.Now(), false)
			if !more {
				break
			}
		}
		if !l.dropped.Load() {
			break
		}
	}
	ew.sample, ew.sampleAt = 0, time.Time{}
	return true
}

// idle runs when the queue is empty and flushed: the previous position sample, taken at least
// echoPositionLag ago, becomes the position, and a new sample is taken.
func (ew *echoWriter) idle() {
	l := ew.l
	now := time.Now()
	if now.Sub(ew.sampleAt) < echoPositionLag {
		return
	}
	if !ew.sampleAt.IsZero() {
		l.line.advance(ew.sample, ew.sampleAt)
		l.line.save(now, false)
	}
	ew.sample, _ = l.n.relay.LastSeq()
	ew.sampleAt = now
}
