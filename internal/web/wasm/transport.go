//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/internal/clientconn"
	"github.com/echorelay/echorelay/internal/web/wsproto"
)

// ErrOtherRelay: the web client reaches only the relay that served it (client.Options.Via
// routes everything else there); a dial of another address is a bug.
var ErrOtherRelay = errors.New("the web client talks only to the relay that served it")

// wsConn is a client.Conn over the page's WebSocket.
type wsConn struct {
	*clientconn.Conn
	fp string
}

// RelayFingerprint is the key fingerprint the serving relay states in /relay.json: the page
// came from the same origin, so it is as trustworthy as the code itself, no more.
func (c *wsConn) RelayFingerprint() string { return c.fp }

// dialer returns the Dialer for the relay at addr (as invites name it), reached at wsURL.
// The client is made with Options.Via = addr, so whatever the library means for another relay
// (a friend's relay, where group commits, session notices and outbox entries go) comes here
// too and is carried on by the serving relay's links.
func dialer(addr, fp, wsURL string) client.Dialer {
	return func(ctx context.Context, a, wantFP string) (client.Conn, error) {
		if a != addr {
			return nil, fmt.Errorf("%w (%s, not %s)", ErrOtherRelay, addr, a)
		}
		if wantFP != "" && wantFP != fp {
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
		return &wsConn{Conn: cn, fp: fp}, nil
	}
}
