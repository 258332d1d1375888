package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/peers"
)

// A *peers.Client is the CLI's client.Conn.
var _ client.Conn = (*peers.Client)(nil)

// dialTransport is the client.Dialer of the CLI: a relay connection whose TLS handshake
// fails unless the relay presents the key fp, when fp is known (relay pinning; the client
// records the key on first use when fp is "").
func dialTransport(ctx context.Context, addr, fp string) (client.Conn, error) {
	c, err := peers.DialClientWith(ctx, addr, peers.DialClientOptions{RelayFingerprint: fp})
	if errors.Is(err, peers.ErrWrongRelay) {
		return nil, fmt.Errorf("%w: %w", client.ErrWrongRelay, err)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}
