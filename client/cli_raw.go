package client

import (
	"context"
	"fmt"

	"github.com/echorelay/echorelay/echo"
)

// PutBlob submits the envelope env to the relay of c, stamped when the relay asks for proof
// of work, once; it returns the blob's ID after the relay's durable ack. It is the raw
// writing of `echorelay put`, which seals nothing.
func PutBlob(ctx context.Context, c Conn, env []byte) (echo.ID, error) {
	env, err := PrepareEnvelope(ctx, c, env)
	if err != nil {
		return echo.ID{}, err
	}
	id, _, err := c.Put(ctx, env)
	if err != nil {
		return echo.ID{}, fmt.Errorf("relay refused the blob: %w", err)
	}
	return id, nil
}

// BlobData is what `echorelay get` writes of a fetched blob: its payload, or with raw the
// whole envelope; and its ID. A payload of a malformed envelope is an error.
func BlobData(it echo.Item, raw bool) (echo.ID, []byte, error) {
	id := echo.BlobID(it.Envelope)
	if raw {
		return id, it.Envelope, nil
	}
	e, err := echo.ParseEnvelope(it.Envelope)
	if err != nil {
		return id, nil, fmt.Errorf("relay sent a bad envelope: %w", err)
	}
	return id, e.Payload, nil
}
