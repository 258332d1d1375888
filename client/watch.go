package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// Watch keeps one subscription per relay open for the friends' tags of the current epochs
// and hands each event to emit as it arrives, until ctx is cancelled (then it returns nil).
// It first retries the outbox. At each epoch change it subscribes again with the new tags.
// Cursors are left to the next Receive, which reads the longer window of past epochs and
// skips what Watch already handled (the seen set knows those blobs). emit is called by one
// goroutine at a time.
func (c *Client) Watch(ctx context.Context, relay string, emit func(Event)) error {
	emit, stopGroups := c.watchGroups(ctx, emit) // groups.go
	defer stopGroups()
	c.mu.Lock()
	s := c.session(ctx)
	defer s.close()
	if _, _, err := s.flushOutbox([16]byte{}, emit); err != nil {
		c.mu.Unlock()
		return err
	}
	friends, err := c.st.Friends()
	if err != nil {
		c.mu.Unlock()
		return err
	}
	type relayWatch struct {
		cn    Conn
		fs    []*Friend
		after uint64
	}
	byRelay := map[string]*relayWatch{}
	for _, f := range friends {
		if f.Blocked {
			continue
		}
		cn, addr, err := s.myConn(f, relay)
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("failed to watch %s: %w", addr, err)
		}
		cur, err := c.st.Cursor(addr, friendScope(f))
		if err != nil {
			c.mu.Unlock()
			return err
		}
		w := byRelay[addr]
		if w == nil {
			w = &relayWatch{cn: cn, after: cur}
			byRelay[addr] = w
		}
		w.fs = append(w.fs, f)
		w.after = min(w.after, cur)
	}
	c.mu.Unlock()
	if len(byRelay) == 0 {
		return ErrNothingToWatch
	}
	errc := make(chan error, len(byRelay))
	for addr, w := range byRelay {
		go func() { errc <- c.watchRelay(ctx, addr, w.cn, w.fs, friends, w.after, emit) }()
	}
	var first error
	for range byRelay {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *Client) watchRelay(ctx context.Context, addr string, cn Conn, fs, friends []*Friend, after uint64, emit func(Event)) error {
	for ctx.Err() == nil {
		now := c.now()
		byTag := map[echo.Tag]*Friend{}
		var tags []echo.Tag
		c.mu.Lock()
		gen := c.tagGen.Load()
		for _, f := range fs {
			ts, err := c.receiveTags(f, now, 1, echo.MaxTagsPerReq/len(fs))
			if err != nil {
				c.mu.Unlock()
				return fmt.Errorf("failed to watch %s: %w", addr, err)
			}
			for _, t := range ts {
				byTag[echo.Tag(t)] = f
				tags = append(tags, echo.Tag(t))
			}
		}
		c.mu.Unlock()
		if len(tags) > echo.MaxTagsPerReq {
			tags = tags[:echo.MaxTagsPerReq]
		}
		sctx, cancel := context.WithTimeout(ctx, listenFor(now))
		err := cn.Subscribe(sctx, tags, after, func(it echo.Item) {
			c.mu.Lock()
			defer c.mu.Unlock()
			after = max(after, it.Seq)
			e, err := echo.ParseEnvelope(it.Envelope)
			if err != nil {
				return
			}
			if err := c.handle(it, byTag[e.Tag], friends, maxTTL(cn), emit); err != nil {
				c.log.Warn("client: failed to keep a received message", "err", err)
			}
			if c.tagGen.Load() != gen {
				cancel() // a session moved on: subscribe again with its new tags
			}
		}, nil)
		resub := c.tagGen.Load() != gen
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if resub && errors.Is(err, context.Canceled) {
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("failed to watch %s: %w", addr, err)
		}
	}
	return nil
}

// listenFor is how long a subscription for the tags of now's epoch lasts: until a minute into
// the next epoch, whose tags are new. It is relative to the client's clock (which tests may
// hold still), so a clock behind the real time cannot make it end at once, again and again.
func listenFor(now time.Time) time.Duration {
	next := time.Unix(int64(seal.Epoch(now)+1)*int64(seal.EpochLength/time.Second), 0)
	return next.Sub(now) + time.Minute
}
