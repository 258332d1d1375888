package peers

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"
)

// The TCP+TLS transport, for networks that block UDP: the TLS stream carries frames directly.

func listenTLS(n *Node, addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

// acceptLoop accepts on ln until it closes, refuses connections over the caps, and serves each
// accepted one on its own goroutine. The TCP+TLS and Echo listeners share it.
func (n *Node) acceptLoop(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		take := n.connSlotOrTrial // a neighbour slot on trial when clients' are full (slots.go)
		if ln == n.echoLn {
			take = n.connSlot // Echo links do not say who they are in TLS
		}
		if !take(c.RemoteAddr()) {
			c.Close()
			continue
		}
		go func() {
			defer n.connDone(c.RemoteAddr())
			serve(c)
		}()
	}
}

func acceptTLS(n *Node) {
	n.acceptLoop(n.tcp, func(c net.Conn) {
		tc := tls.Server(c, n.serverTLS())
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if notPQ(err) {
				// Said once per minute at most: a relay or client built without the post-quantum
				// key exchange would otherwise fill the log; its address is not logged.
				n.abuse.closed("no_pq_kex")
				if n.pqWarn.allow(time.Now()) {
					n.log.Warn("refused a TLS link without the post-quantum key exchange X25519MLKEM768 (an old echorelay, or GODEBUG=tlsmlkem=0 on the other side)")
				}
			} else {
				n.abuse.closed("tls_handshake")
			}
			c.Close()
			return
		}
		n.serve(tlsStream(tc), nil)
	})
}

func tlsStream(tc *tls.Conn) stream {
	return stream{
		rw:    tc,
		close: func(uint64, string) { tc.Close() },
		setDeadline: func(read bool, t time.Time) error {
			if read {
				return tc.SetReadDeadline(t)
			}
			return tc.SetWriteDeadline(t)
		},
		remote:    tc.RemoteAddr(),
		peerFP:    peerFingerprint(tc.ConnectionState()),
		tls:       tc.ConnectionState(),
		transport: "tls",
	}
}

func dialTLS(ctx context.Context, p Peer, id *Identity) (stream, error) {
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 15 * time.Second}, Config: clientTLS(id, p.Pin)}
	c, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		if strings.Contains(err.Error(), "tls: handshake failure") { // the alert: most likely no shared group
			return stream{}, fmt.Errorf("%w (it may lack the post-quantum key exchange X25519MLKEM768 that echorelay requires: an old build, or GODEBUG=tlsmlkem=0)", err)
		}
		return stream{}, err
	}
	return tlsStream(c.(*tls.Conn)), nil
}
