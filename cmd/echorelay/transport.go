package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo"
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

// fetchPaced reads one page, waiting out rate limits.
func fetchPaced(ctx context.Context, c *peers.Client, tags []echo.Tag, cursor uint64) (items []echo.Item, next uint64, more bool, err error) {
	err = client.RetryRateLimited(ctx, func() (err error) {
		items, next, more, err = c.Fetch(ctx, tags, cursor, 0)
		return err
	})
	return items, next, more, err
}
