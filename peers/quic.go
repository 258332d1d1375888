package peers

import (
	"context"
	"net"
	"time"

	"github.com/quic-go/quic-go"
)

// quicSide is the QUIC transport: one UDP socket serves the listener and every dial, so
// outgoing links leave from the listening port.
type quicSide struct {
	n   *Node
	udp *net.UDPConn
	tr  *quic.Transport
	ln  *quic.Listener
}

func quicConfig(handshake time.Duration) *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  handshake,
		MaxIdleTimeout:        60 * time.Second,
		KeepAlivePeriod:       15 * time.Second, // below common NAT UDP timeouts
		MaxIncomingStreams:    4,                // a link uses one stream
		MaxIncomingUniStreams: -1,
		// Received data waits in quic-go's buffers up to the flow-control window, outside the
		// memory budget (budget.go): a link that does not read (waiting for the budget) keeps
		// at most the initial window. Windows grow for links that read fast.
		InitialStreamReceiveWindow:     64 << 10,
		InitialConnectionReceiveWindow: 96 << 10,
		MaxStreamReceiveWindow:         4 << 20,
		MaxConnectionReceiveWindow:     6 << 20,
	}
}

func listenQUIC(n *Node, addr string) (*quicSide, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	q := &quicSide{n: n, udp: udp, tr: &quic.Transport{Conn: udp}}
	q.ln, err = q.tr.Listen(n.serverTLS(), quicConfig(n.cfg.HandshakeTimeout))
	if err != nil {
		udp.Close()
		return nil, err
	}
	return q, nil
}

func (q *quicSide) port() int { return q.udp.LocalAddr().(*net.UDPAddr).Port }

func (q *quicSide) close() {
	q.ln.Close()
	q.tr.Close()
	q.udp.Close()
}

func (q *quicSide) acceptLoop() {
	for {
		c, err := q.ln.Accept(q.n.ctx)
		if err != nil {
			return
		}
		if !q.n.connSlotOrTrial(c.RemoteAddr()) {
			c.CloseWithError(1, "busy")
			continue
		}
		go func() {
			defer q.n.connDone(c.RemoteAddr())
			ctx, cancel := context.WithTimeout(q.n.ctx, q.n.cfg.HandshakeTimeout)
			st, err := c.AcceptStream(ctx)
			cancel()
			if err != nil {
				q.n.abuse.closed("no_stream")
				c.CloseWithError(2, "no stream")
				return
			}
			q.n.serve(quicStream(c, st), nil)
		}()
	}
}

func quicStream(c *quic.Conn, st *quic.Stream) stream {
	return stream{
		rw: st,
		close: func(code uint64, reason string) {
			st.CancelRead(0)
			if code != 0 {
				// A link-level ERROR was written: closing the connection at once would discard
				// it. Finish the stream and give the peer a moment to read it and hang up.
				st.Close()
				t := time.NewTimer(finalWriteTimeout / 2)
				select {
				case <-c.Context().Done():
				case <-t.C:
				}
				t.Stop()
			}
			c.CloseWithError(quic.ApplicationErrorCode(code), reason)
		},
		setDeadline: func(read bool, t time.Time) error {
			if read {
				return st.SetReadDeadline(t)
			}
			return st.SetWriteDeadline(t)
		},
		remote:    c.RemoteAddr(),
		peerFP:    peerFingerprint(c.ConnectionState().TLS),
		tls:       c.ConnectionState().TLS,
		transport: "quic",
	}
}

func (q *quicSide) dial(ctx context.Context, p Peer, id *Identity) (stream, error) {
	ua, err := net.ResolveUDPAddr("udp", p.Addr)
	if err != nil {
		return stream{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	c, err := q.tr.Dial(ctx, ua, clientTLS(id, p.Pin), quicConfig(HandshakeTimeout))
	if err != nil {
		return stream{}, err
	}
	st, err := c.OpenStreamSync(ctx)
	if err != nil {
		c.CloseWithError(0, "")
		return stream{}, err
	}
	return quicStream(c, st), nil
}

func newClientTransport(udp *net.UDPConn) *quic.Transport { return &quic.Transport{Conn: udp} }
