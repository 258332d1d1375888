package client

import (
	"context"
	"fmt"

	"github.com/echorelay/echorelay/echo"
)

// FetchPages calls fn for the blobs stored after cursor under tags (nil: every blob), a page
// at a time and waiting out rate limits, until the relay has no more or fn has seen limit
// (0: no limit; the page in which limit is reached is finished). It returns the cursor to
// resume from. It is the raw reading of `echorelay get`, which opens nothing.
func FetchPages(ctx context.Context, c Conn, tags []echo.Tag, cursor uint64, limit int, fn func(echo.Item) error) (uint64, error) {
	const maxPages = 1 << 20 // bounded; a relay's page holds at least one blob
	for n, page := 0, 0; page < maxPages && (limit <= 0 || n < limit); page++ {
		var items []echo.Item
		var next uint64
		var more bool
		err := RetryRateLimited(ctx, func() (err error) {
			items, next, more, err = c.Fetch(ctx, tags, cursor, 0)
			return err
		})
		if err != nil {
			return cursor, fmt.Errorf("fetch failed: %w", err)
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return cursor, err
			}
			n++
		}
		if next > cursor {
			cursor = next
		}
		if !more {
			break
		}
	}
	return cursor, nil
}
