package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// groupBell is Watch's subscription to the groups' tags: on each relay where this client reads,
// it subscribes to the tags of every group's kept epochs and rings wake when a blob arrives.
// It only rings: the reading itself stays with receiveGroups (cursors, order, saving the
// states), so a blob is handled once however it was noticed. A bell lives until ctx ends, the
// day changes (it rings once more, so that the next read starts a bell with the new day's
// tags) or its relay fails (the next read starts a new one).
type groupBell struct {
	key    string // the relays and tags it listens to
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	alive  int // relays still subscribed
}

// stop ends the bell's subscriptions and waits for them. A nil bell is stopped.
func (b *groupBell) stop() {
	if b == nil {
		return
	}
	b.cancel()
	b.wg.Wait()
}

func (b *groupBell) live() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.alive > 0
}

// groupBellTags lists, per relay, the tags to listen to and the cursor to listen from (the
// oldest of the groups' cursors there: what came before it was read already).
func (c *Client) groupBellTags(now time.Time) (map[groupRelay][]echo.Tag, map[string]uint64, error) {
	set, err := c.groupSet()
	if err != nil {
		return nil, nil, err
	}
	relays, err := c.groupRelays()
	if err != nil {
		return nil, nil, nil // no friends: no groups to read
	}
	var tags []echo.Tag
	var scopes []string
	for _, g := range set.Groups() {
		if g.Gone() {
			continue
		}
		id := g.ID()
		for _, et := range g.EpochTags(now) {
			scopes = append(scopes, groupScope(id, et.Epoch))
			for _, t := range et.Tags {
				tags = append(tags, echo.Tag(t))
			}
		}
	}
	if len(tags) == 0 {
		return nil, nil, nil
	}
	// The newest epochs' tags come last; a relay takes at most MaxTagsPerReq in one request.
	tags = tags[max(0, len(tags)-echo.MaxTagsPerReq):]
	out, after := map[groupRelay][]echo.Tag{}, map[string]uint64{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range relays {
		out[r] = tags
		from := uint64(0)
		for i, sc := range scopes {
			cur, err := c.st.Cursor(r.addr, sc)
			if err != nil {
				return nil, nil, err
			}
			if i == 0 || cur < from {
				from = cur
			}
		}
		after[r.addr] = from
	}
	return out, after, nil
}

// ringGroupBell keeps a bell listening to the groups' current tags: it returns old when that
// still listens to them, else stops old and starts a new one (nil when there is nothing to
// listen to).
func (c *Client) ringGroupBell(ctx context.Context, old *groupBell, wake chan<- struct{}) *groupBell {
	now := c.now()
	byRelay, after, err := c.groupBellTags(now)
	if err != nil {
		c.log.Warn("groups could not be listened to", "err", err)
		return old
	}
	key := fmt.Sprint(byRelay)
	if old != nil && old.key == key && old.live() {
		return old
	}
	old.stop()
	if len(byRelay) == 0 {
		return nil
	}
	ring := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	bctx, cancel := context.WithCancel(ctx)
	b := &groupBell{key: key, cancel: cancel, alive: len(byRelay)}
	listen := listenFor(now)
	for r, tags := range byRelay {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() { b.mu.Lock(); b.alive--; b.mu.Unlock() }()
			s := c.session(bctx)
			defer s.close()
			c.mu.Lock()
			cn, err := s.conn(r.addr, r.fp)
			c.mu.Unlock()
			if err != nil {
				c.log.Debug("groups: relay not reachable for listening", "err", err)
				return
			}
			// When the day is over, the ring makes the next read start a bell for its tags.
			sctx, scancel := context.WithTimeout(bctx, listen)
			defer scancel()
			err = cn.Subscribe(sctx, tags, after[r.addr], func(echo.Item) { ring() }, nil)
			if bctx.Err() != nil {
				return
			}
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				c.log.Debug("groups: listening stopped", "err", err)
			}
			ring()
		}()
	}
	return b
}
