//go:build js && wasm

package main

import (
	"context"
	"fmt"

	"github.com/coder/websocket"
	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/internal/clientconn"
	"github.com/echorelay/echorelay/internal/web/wsproto"
)

// wsConn is a client.Conn over the page's WebSocket.
type wsConn struct {
	*clientconn.Conn
	fp string
}

// RelayFingerprint is the key fingerprint the serving relay states in /relay.json: the page
// came from the same origin, so it is as trustworthy as the code itself, no more. For another
// relay's address (see dialer) it is the fingerprint the caller asked for.
func (c *wsConn) RelayFingerprint() string { return c.fp }

// dialer returns the Dialer for the relay at addr (as invites name it), reached at wsURL.
//
// The web client reaches only the relay that served it. Whatever the library sends to
// another relay (a friend's relay, where its group commits, session notices and outbox
// entries go) it puts on the serving relay instead, whose links carry it on: the same route
// the page's own sends take (SendOptions.Relay). Such a connection answers RelayFingerprint
// with the fingerprint asked for, since the relay it would pin is one this client never
// talks to; the blobs are sealed end to end either way, and the serving relay's own
// fingerprint is checked as before.
func dialer(addr, fp, wsURL string) client.Dialer {
	return func(ctx context.Context, a, wantFP string) (client.Conn, error) {
		reported := fp
		switch {
		case a != addr && wantFP != "":
			reported = wantFP
		case a == addr && wantFP != "" && wantFP != fp:
			return nil, fmt.Errorf("%w: %s", client.ErrWrongRelay, a)
		}
		ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{wsproto.Subprotocol}})
		if err != nil {
			return nil, fmt.Errorf("failed to connect to relay: %w", err)
		}
		nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
		ws.SetReadLimit(wsproto.MaxMessage) // after NetConn, which lifts it
		cn, err := clientconn.Open(ctx, nc, clientconn.Options{Close: nc.Close, Name: addr})
		if err != nil {
			return nil, err
		}
		return &wsConn{Conn: cn, fp: reported}, nil
	}
}
