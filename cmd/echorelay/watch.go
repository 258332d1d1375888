package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// watch keeps one subscription per relay open for the friends' tags of the current epochs and
// prints messages as they arrive, until SIGINT or SIGTERM. At each epoch change it subscribes
// again with the new tags. Cursors are left to the next plain `inbox`, which reads the longer
// window of past epochs (and skips what watch already showed by its blob ID).
func (in *inbox) watch(override func(string) string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	byRelay := map[string][]*friend{}
	for _, f := range in.friends {
		a := override(f.relay)
		byRelay[a] = append(byRelay[a], f)
	}
	if len(byRelay) == 0 {
		return userErr("add a friend first with `echorelay friend invite` or `friend accept`", "nobody to watch for")
	}
	var mu sync.Mutex // the history and standard output, shared by the relays' subscriptions
	errc := make(chan error, len(byRelay))
	for addr, fs := range byRelay {
		c, err := in.conn(addr)
		if err != nil {
			return err
		}
		after := ^uint64(0)
		for _, f := range fs {
			fp := f.bundle.Fingerprint()
			after = min(after, in.cl.db.cursor(addr, "friend:"+fmt.Sprintf("%x", fp[:8])))
		}
		go func() {
			for round := 0; ctx.Err() == nil; round++ {
				now := time.Now()
				byTag := map[echo.Tag]*friend{}
				var tags []echo.Tag
				for _, f := range fs {
					for _, t := range seal.ReceiveTags(f.pair, f.bundle.Fingerprint(), now, 1) {
						byTag[echo.Tag(t)] = f
						tags = append(tags, echo.Tag(t))
					}
				}
				if len(tags) > echo.MaxTagsPerReq {
					tags = tags[:echo.MaxTagsPerReq]
				}
				next := time.Unix(int64(seal.Epoch(now)+1)*int64(seal.EpochLength/time.Second), 0)
				sctx, cancel := context.WithDeadline(ctx, next.Add(time.Minute))
				err := c.Subscribe(sctx, tags, after, func(it echo.Item) {
					mu.Lock()
					defer mu.Unlock()
					after = max(after, it.Seq)
					e, err := echo.ParseEnvelope(it.Envelope)
					if err != nil {
						return
					}
					n := len(in.events)
					if err := in.handle(it, byTag[e.Tag]); err != nil {
						fmt.Fprintf(os.Stderr, "echorelay: %s\n", err)
					}
					for _, ev := range in.events[n:] {
						fmt.Println(ev.line)
					}
				}, nil)
				cancel()
				if ctx.Err() != nil {
					errc <- nil
					return
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					errc <- fmt.Errorf("watching %s: %w", addr, err)
					return
				}
			}
			errc <- nil
		}()
	}
	fmt.Fprintln(os.Stderr, "watching for new messages; Ctrl-C to stop")
	for range byRelay {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}
