package peers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// ErrBusy is a connection refused because the relay holds as many connections as it takes
// (MaxConns), or as many from that address as it takes from one (MaxConnsPerIP).
var ErrBusy = errors.New("the relay takes no more connections now")

// ErrNotClient is a connection on a clients-only carrier (the web client's WebSocket) whose
// HELLO does not say role client.
var ErrNotClient = errors.New("this carrier takes client links only")

// ServeClientConn runs conn as a client link of the node until it ends, like a client's QUIC
// stream or TCP+TLS connection: the same connection slots (MaxConns, MaxConnsPerIP), rates,
// memory budget, deadlines and subscriptions. remote is the client's address, used only for
// the per-address limits (never logged). It is for carriers other than the node's own
// listeners, such as internal/web's WebSocket endpoint: conn carries the frames of PROTOCOL.md
// section 3, and its first frame MUST be a client's HELLO (a relay cannot link over it: such a
// link is closed with ERROR malformed, ErrNotClient). The caller authenticated nothing; conn
// is closed when ServeClientConn returns.
func (n *Node) ServeClientConn(conn net.Conn, remote net.Addr) error {
	if n.ctx.Err() != nil {
		conn.Close()
		return net.ErrClosed
	}
	if !n.connSlot(remote) {
		conn.Close()
		return ErrBusy
	}
	defer n.connDone(remote)
	first, err := readClientHello(conn, n.cfg.HandshakeTimeout)
	if err != nil {
		if errors.Is(err, ErrNotClient) {
			conn.SetWriteDeadline(time.Now().Add(finalWriteTimeout))
			f := echo.ErrorFrame{Err: &echo.Error{Code: echo.CodeMalformed, Msg: "this carrier takes client links only"}}.Frame()
			conn.Write(echo.AppendFrame(nil, f.Type, f.Body))
		}
		switch { // the close reasons of AbuseStats.ClosesByReason
		case errors.Is(err, ErrNotClient), errors.Is(err, echo.ErrMalformed):
			n.abuse.closed("malformed")
		case errors.Is(err, os.ErrDeadlineExceeded):
			n.abuse.closed("handshake_timeout")
		default:
			n.abuse.closed("peer_close")
		}
		conn.Close()
		return err
	}
	s := stream{
		rw: struct {
			io.Reader
			io.Writer
		}{io.MultiReader(bytes.NewReader(first), conn), conn},
		close: func(uint64, string) { conn.Close() },
		setDeadline: func(read bool, t time.Time) error {
			if read {
				return conn.SetReadDeadline(t)
			}
			return conn.SetWriteDeadline(t)
		},
		remote:    remote,
		transport: "ws",
	}
	n.serve(s, nil)
	return nil
}

// readClientHello reads the first frame of conn (within timeout), byte-exact so that nothing
// after it is consumed, and returns its bytes when it is a well-formed client HELLO.
func readClientHello(conn net.Conn, timeout time.Duration) ([]byte, error) {
	conn.SetReadDeadline(time.Now().Add(timeout))
	defer conn.SetReadDeadline(time.Time{})
	const helloLen = 1 + 22 // type byte and the HELLO body (PROTOCOL.md section 3)
	b := make([]byte, 4+helloLen)
	if _, err := io.ReadFull(conn, b[:5]); err != nil {
		return nil, fmt.Errorf("failed to read HELLO: %w", err)
	}
	if t := echo.FrameType(b[4]); t != echo.FrameHello {
		return nil, fmt.Errorf("%w: the first frame is type %d, not HELLO", ErrNotClient, t)
	}
	if n := binary.BigEndian.Uint32(b); n != helloLen {
		return nil, fmt.Errorf("failed to read HELLO: %w: length %d", echo.ErrMalformed, n)
	}
	if _, err := io.ReadFull(conn, b[5:]); err != nil {
		return nil, fmt.Errorf("failed to read HELLO: %w", err)
	}
	h, err := echo.ParseHello(b[5:])
	if err != nil {
		return nil, fmt.Errorf("failed to read HELLO: %w", err)
	}
	if h.Role != echo.RoleClient {
		return nil, fmt.Errorf("%w: HELLO says role %d", ErrNotClient, h.Role)
	}
	return b, nil
}
