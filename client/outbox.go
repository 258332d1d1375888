package client

import (
	"context"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// The outbox: every send is sealed into envelopes that are kept (encrypted, in the Store)
// before the first put, and deleted once the relay has them. What a relay could not take
// for now (no connection, a full mailbox, a rate limit) stays for the next Send, Receive or
// Watch; what it refuses for good (too large, expired) is dropped with an OutboxDroppedEvent.
//
//	AddOutbox ──put ok──▶ DropOutbox
//	    │ put failed for now: Tries+1, LastErr ──▶ retried by the next flush
//	    └ refused for good, or expired ──▶ DropOutbox + OutboxDroppedEvent

// OutboxItem is one send waiting in the outbox.
type OutboxItem struct {
	To       string // the friend's name ("" when removed since)
	What     string
	Relay    string
	Created  time.Time
	Envelope int // envelopes still waiting
	Bytes    int
	Tries    int
	LastErr  string
	LastTry  time.Time
}

// Outbox lists what waits, oldest first, one item per send.
func (c *Client) Outbox() ([]OutboxItem, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	es, err := c.st.Outbox()
	if err != nil {
		return nil, err
	}
	var out []OutboxItem
	idx := map[[16]byte]int{}
	for _, e := range es {
		i, ok := idx[e.Group]
		if !ok {
			name := ""
			if f, _ := c.friendByFP(e.To); f != nil {
				name = f.Name
			}
			i = len(out)
			idx[e.Group] = i
			out = append(out, OutboxItem{To: name, What: e.What, Relay: e.Relay, Created: e.Created})
		}
		it := &out[i]
		it.Envelope++
		it.Bytes += len(e.Envelope)
		it.Tries = max(it.Tries, e.Tries)
		if e.LastTry.After(it.LastTry) || it.LastErr == "" {
			it.LastErr, it.LastTry = cmpStr(e.LastErr, it.LastErr), e.LastTry
		}
	}
	return out, nil
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// FlushOutbox tries to put everything waiting in the outbox.
func (c *Client) FlushOutbox(ctx context.Context) ([]Event, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session(ctx)
	defer s.close()
	var evs []Event
	_, _, err := s.flushOutbox([16]byte{}, func(e Event) { evs = append(evs, e) })
	return evs, err
}

// flushOutbox puts every waiting envelope. It reports how many of group's are still waiting
// and the last error they met; the other groups that went out are reported as events.
func (s *session) flushOutbox(group [16]byte, emit func(Event)) (left int, lastErr error, err error) {
	c := s.c
	es, err := c.st.Outbox()
	if err != nil {
		return 0, nil, err
	}
	type tally struct {
		to, what string
		sent     int
		waiting  bool
	}
	groups := map[[16]byte]*tally{}
	dead := map[[16]byte]error{}
	var order [][16]byte
	now := c.now()
	for _, e := range es {
		f, err := c.friendByFP(e.To)
		if err != nil {
			return 0, nil, err
		}
		g := groups[e.Group]
		if g == nil {
			g = &tally{what: e.What}
			if f != nil {
				g.to = f.Name
			}
			groups[e.Group] = g
			order = append(order, e.Group)
		}
		if f == nil { // the friend was removed: nobody to send to
			if err := c.st.DropOutbox(e.ID); err != nil {
				return 0, nil, err
			}
			continue
		}
		perr := dead[e.Group]
		if perr == nil {
			perr = s.putEntry(f, e, now)
		}
		switch {
		case perr == nil:
			g.sent++
			if err := c.st.DropOutbox(e.ID); err != nil {
				return 0, nil, err
			}
		case permanent(perr):
			if err := c.st.DropOutbox(e.ID); err != nil {
				return 0, nil, err
			}
			if dead[e.Group] == nil && e.Group != group {
				emit(OutboxDroppedEvent{To: g.to, What: e.What, Err: perr, At: now})
			}
			dead[e.Group] = perr // the other chunks of a file are useless without this one
		default:
			g.waiting = true
			e.Tries++
			e.LastErr, e.LastTry = perr.Error(), now
			if err := c.st.UpdateOutbox(e); err != nil {
				return 0, nil, err
			}
			if e.Group == group {
				left++
				lastErr = perr
			}
		}
	}
	if err := dead[group]; err != nil {
		return 0, nil, err
	}
	for _, k := range order {
		if g := groups[k]; k != group && g.sent > 0 && !g.waiting {
			emit(OutboxSentEvent{To: g.to, What: g.what, Count: g.sent, At: now})
		}
	}
	return left, lastErr, nil
}

var errExpired = fmt.Errorf("expired in the outbox: %w", echo.ErrExpired)

func (s *session) putEntry(f *Friend, e *OutboxEntry, now time.Time) error {
	env, err := echo.ParseEnvelope(e.Envelope)
	if err != nil {
		return fmt.Errorf("%w: stored envelope: %w", echo.ErrMalformed, err)
	}
	if env.Expiry <= now.Unix() {
		return errExpired
	}
	var cn Conn
	if e.Relay == f.TheirRelay {
		cn, _, err = s.theirConn(f, "")
	} else {
		cn, err = s.conn(e.Relay, "")
	}
	if err != nil {
		return err
	}
	return put(s.ctx, cn, e.Envelope)
}
