package peers

import (
	"context"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// Stamp returns env with a proof-of-work stamp of the cost the relay asked for in its HELLO
// (PROTOCOL.md section 6: more for a larger or longer-lived blob), or env unchanged when it
// asks none. It gives up when ctx ends.
func (c *Client) Stamp(ctx context.Context, env []byte) ([]byte, error) {
	bits, err := echo.StampCostFor(c.Hello(), env, time.Now())
	if err != nil {
		return nil, err
	}
	if bits == 0 {
		return env, nil
	}
	if bits > echo.MaxStampBits {
		return nil, fmt.Errorf("the relay asks for a stamp of %d bits; this client computes at most %d", bits, echo.MaxStampBits)
	}
	out, err := echo.StampEnvelope(ctx, env, bits)
	if err != nil {
		return nil, fmt.Errorf("failed to compute the stamp the relay asks for: %w", err)
	}
	return out, nil
}
