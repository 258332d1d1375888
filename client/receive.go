package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/echorelay/echorelay/client/ratchet"
	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// ReceiveOptions tune Receive.
type ReceiveOptions struct {
	// All fetches every blob of the relays (untagged mode, PROTOCOL.md 7.5) and tries to open
	// each: the relay learns nothing about which blobs are mine; those that do not open are
	// skipped silently.
	All bool
	// Relay reads every friend (and answers to invites) at this relay instead of the stored
	// ones.
	Relay string
}

// ReceiveResult is what Receive found.
type ReceiveResult struct {
	Events   []Event          // in time order
	Failed   map[string]error // relays that could not be read: what is there waits for the next run
	Answered int              // relays that were read
}

// receivePairwise retries the outbox, completes my pending invites, and reads, opens and verifies
// what arrived for me since the last Receive, resuming per relay and friend at the stored
// cursors. A relay that fails is reported in Failed and the others are still read; its cursor
// is not advanced past what was not read.
func (c *Client) receivePairwise(ctx context.Context, o ReceiveOptions) (*ReceiveResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session(ctx)
	defer s.close()
	var evs []Event
	emit := func(e Event) { evs = append(evs, e) }
	if _, _, err := s.flushOutbox([16]byte{}, emit); err != nil {
		return nil, err
	}
	if err := s.finishInvites(o.Relay, emit); err != nil {
		return nil, err
	}
	friends, err := c.st.Friends()
	if err != nil {
		return nil, err
	}
	if o.All {
		done := map[string]bool{}
		for _, f := range friends {
			addr, fp := f.MyRelay, f.MyRelayFP
			if o.Relay != "" {
				addr, fp = o.Relay, ""
			}
			if !done[addr] {
				done[addr] = true
				s.fail(addr, s.readAll(addr, fp, friends, emit))
			}
		}
		if len(done) == 0 && o.Relay != "" {
			s.fail(o.Relay, s.readAll(o.Relay, "", friends, emit))
		}
	} else {
		for _, f := range friends {
			// A blocked friend's tags are still read, so that the cursor moves past what they
			// send: handle drops it, and unblocking does not bring it back.
			cn, addr, err := s.myConn(f, o.Relay)
			if err != nil {
				s.fail(addr, err)
				continue
			}
			s.fail(addr, s.readFriend(cn, addr, f, friends, emit))
		}
	}
	if err := c.st.PruneSeen(c.now().Add(-s.lifetime()-c.skew), c.cap); err != nil {
		return nil, err
	}
	if c.resetQueued {
		c.resetQueued = false
		if _, _, err := s.flushOutbox([16]byte{}, emit); err != nil {
			return nil, err
		}
	}
	evs = lastGaps(evs)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].When().Before(evs[j].When()) })
	failed := map[string]error{}
	for a, err := range s.failed {
		failed[a] = err
	}
	return &ReceiveResult{Events: evs, Failed: failed, Answered: len(s.conns)}, nil
}

// lastGaps keeps only the last GapEvent of each friend: one Receive reports where the gaps
// ended, not every step.
func lastGaps(evs []Event) []Event {
	last := map[string]int{}
	for i, e := range evs {
		if g, ok := e.(GapEvent); ok {
			last[g.From] = i
		}
	}
	out := evs[:0]
	for i, e := range evs {
		if g, ok := e.(GapEvent); ok && last[g.From] != i {
			continue
		}
		out = append(out, e)
	}
	return out
}

// lifetime is the longest blob lifetime of the relays of this session.
func (s *session) lifetime() time.Duration {
	d := echo.DefaultMaxTTL
	for _, cn := range s.conns {
		d = max(d, maxTTL(cn))
	}
	return d
}

func maxTTL(cn Conn) time.Duration {
	if t := time.Duration(cn.Hello().MaxTTL) * time.Second; t > 0 {
		return t
	}
	return echo.DefaultMaxTTL
}

// lookbackEpochs covers the relay's longest blob lifetime.
func lookbackEpochs(cn Conn) int { return int(maxTTL(cn)/seal.EpochLength) + 1 }

func friendScope(f *Friend) string {
	fp := f.Fingerprint()
	return fmt.Sprintf("friend:%x", fp[:8])
}

func (s *session) readFriend(cn Conn, addr string, f *Friend, friends []*Friend, emit func(Event)) error {
	var tags []echo.Tag
	ts, err := s.c.receiveTags(f, s.c.now(), lookbackEpochs(cn), echo.MaxTagsPerReq)
	if err != nil {
		return err
	}
	for _, t := range ts {
		tags = append(tags, echo.Tag(t))
	}
	cur, err := s.c.st.Cursor(addr, friendScope(f))
	if err != nil {
		return err
	}
	next, err := fetchAll(s.ctx, cn, tags, cur, func(it echo.Item) error {
		return s.c.handle(it, f, friends, maxTTL(cn), emit)
	})
	if err != nil {
		return err
	}
	return s.c.st.SetCursor(addr, friendScope(f), next)
}

func (s *session) readAll(addr, fp string, friends []*Friend, emit func(Event)) error {
	cn, err := s.conn(addr, fp)
	if err != nil {
		return err
	}
	cur, err := s.c.st.Cursor(addr, "all")
	if err != nil {
		return err
	}
	next, err := fetchAll(s.ctx, cn, nil, cur, func(it echo.Item) error {
		return s.c.handle(it, nil, friends, maxTTL(cn), emit)
	})
	if err != nil {
		return err
	}
	return s.c.st.SetCursor(addr, "all", next)
}

// handle applies the receiver rules (see the package comment) to one blob. mailbox is the
// friend whose tag it came under, nil when reading everything. Only store errors are
// returned; a blob that breaks a rule is an event (or nothing).
func (c *Client) handle(it echo.Item, mailbox *Friend, friends []*Friend, lifetime time.Duration, emit func(Event)) error {
	id := echo.BlobID(it.Envelope)
	now := c.now()
	where := ""
	if mailbox != nil {
		where = mailbox.Name
	}
	reject := func(r RejectReason, detail string) error {
		if mailbox != nil || (r != RejectNotForMe && r != RejectMalformed && r != RejectUnknownAlgorithm) {
			emit(RejectedEvent{Blob: id, Mailbox: where, Reason: r, Detail: detail, At: now})
		}
		c.log.Debug("client: rejected blob", "blob", id.Short(), "reason", r.String())
		return nil
	}
	e, err := echo.ParseEnvelope(it.Envelope)
	if err != nil {
		return reject(RejectMalformed, "envelope")
	}
	if len(e.Payload) > 0 && e.Payload[0] == ratchet.Version {
		return c.handleRatchet(id, e.Payload, mailbox, friends, lifetime, reject, emit)
	}
	byFP := func(fp seal.Fingerprint) *Friend {
		for _, f := range friends {
			if f.Fingerprint() == fp {
				return f
			}
		}
		return nil
	}
	m, err := seal.Open(c.id, e.Payload, func(fp seal.Fingerprint) *seal.Bundle {
		if f := byFP(fp); f != nil {
			return f.Bundle
		}
		return nil
	})
	if err != nil {
		switch {
		case errors.Is(err, seal.ErrNotForMe):
			return reject(RejectNotForMe, "")
		case errors.Is(err, seal.ErrMisaddressed):
			return reject(RejectMisaddressed, "")
		case errors.Is(err, seal.ErrUnknownSender):
			return reject(RejectUnknownSender, "")
		case errors.Is(err, seal.ErrUnknownAlgorithm):
			return reject(RejectUnknownAlgorithm, "")
		case errors.Is(err, seal.ErrTampered):
			return reject(RejectTampered, trimOpen(err))
		default:
			return reject(RejectMalformed, trimOpen(err))
		}
	}
	from := byFP(m.Sender.Fingerprint())
	if from.Blocked {
		c.log.Debug("client: dropped a blocked sender's blob", "blob", id.Short())
		return nil
	}
	if mailbox != nil && from != mailbox {
		return reject(RejectWrongSender, "signed by "+from.Name)
	}
	if m.Time.Before(now.Add(-lifetime-c.skew)) || m.Time.After(now.Add(c.skew)) {
		return reject(RejectTime, m.Time.UTC().Format(time.RFC3339))
	}
	var start *sessionStart
	typ, content := m.Type, m.Content
	if m.Type == TypeSession {
		if start, typ, content, err = parseSessionContent(m.Content); err != nil {
			return reject(RejectMalformed, "session start")
		}
	} else {
		// Once the friend has shown that they speak the ratchet, an old-format message they
		// date later is a downgrade (PROTOCOL.md 7.8.8); older ones were stored at relays
		// before the session began.
		rec, err := c.st.Session(from.Fingerprint())
		if err != nil {
			return err
		}
		// Both times are the friend's clock: no skew.
		if rec != nil && !rec.Spoke.IsZero() && m.Time.After(rec.Spoke) {
			return reject(RejectDowngrade, "")
		}
	}
	seen, err := c.st.MarkSeen(m.Sender.Fingerprint(), m.ID, id, now)
	if err != nil {
		return err
	}
	switch seen {
	case SeenSameBlob:
		return nil
	case SeenReplay:
		return reject(RejectReplay, "")
	}
	if start != nil {
		if err := c.takeStart(from, start, m.Time, emit); err != nil {
			if errors.Is(err, seal.ErrMalformed) {
				return reject(RejectMalformed, "session start")
			}
			return err
		}
		c.tagGen.Add(1)
		if typ == 0 {
			return nil
		}
	}
	return c.deliver(from, typ, content, m.Time, m.ID, false, reject, emit)
}

// deliver keeps and reports an opened message's content.
func (c *Client) deliver(from *Friend, typ seal.ContentType, content []byte, at time.Time, mid seal.MessageID, viaRatchet bool, reject func(RejectReason, string) error, emit func(Event)) error {
	switch typ {
	case seal.TypeText:
		if err := c.st.AddMessage(&Message{Friend: from.Fingerprint(), Time: at, Kind: "text", Body: content}); err != nil {
			return err
		}
		emit(MessageEvent{From: from.Name, Time: at, ID: mid, Text: string(content)})
	case seal.TypeFile:
		ch, err := seal.ParseFileChunk(content)
		if err != nil {
			return reject(RejectBadChunk, trimOpen(err))
		}
		return c.addChunk(from, ch, at, emit)
	case TypeControl:
		if len(content) == 0 {
			return reject(RejectMalformed, "empty control payload")
		}
		if content[0] == controlSessionNotice {
			emit(SessionResetEvent{From: from.Name, Reason: ResetNoticed, At: at})
			return nil
		}
		emit(ControlEvent{From: from.Name, Friend: from.Fingerprint(), Time: at, Type: content[0], Payload: content[1:], Ratchet: viaRatchet})
	default:
		emit(UnknownTypeEvent{From: from.Name, Time: at, Type: typ})
	}
	return nil
}

// handleRatchet applies the receiver rules to a ratchet payload (PROTOCOL.md 7.8.8): the
// session of the tag's friend (every friend's when reading everything) opens it, the time is
// in the window, the position was not seen before.
func (c *Client) handleRatchet(id echo.ID, payload []byte, mailbox *Friend, friends []*Friend, lifetime time.Duration, reject func(RejectReason, string) error, emit func(Event)) error {
	now := c.now()
	cands := friends
	if mailbox != nil {
		cands = []*Friend{mailbox}
	}
	r, err := c.openRatchet(payload, cands, now)
	if err != nil {
		return err
	}
	// The seen set keys a ratchet message by its position and its payload (without the
	// envelope, whose stamp may differ between puts of the same message).
	pid := sha256.Sum256(payload)
	switch {
	case r.err == nil:
	case errors.Is(r.err, ratchet.ErrNotMine):
		return reject(RejectNotForMe, "")
	case errors.Is(r.err, ratchet.ErrDuplicate):
		seen, err := c.st.MarkSeen(r.from.Fingerprint(), positionID(r.o.Pos), pid, now)
		if err != nil || seen != SeenReplay {
			return err // the same message again: skipped silently
		}
		return c.resetSession(r.from, now, emit)
	case errors.Is(r.err, ratchet.ErrStale):
		return c.resetSession(r.from, now, emit)
	case errors.Is(r.err, ratchet.ErrTampered):
		return reject(RejectTampered, "ratchet body")
	default:
		return reject(RejectMalformed, r.err.Error())
	}
	from, m := r.from, r.o
	if r.prev == nil {
		c.reportGap(from, r.rec, r.rs, emit)
	}
	if err := r.save(c, now); err != nil {
		return err
	}
	c.tagGen.Add(1)
	if from.Blocked {
		c.log.Debug("client: dropped a blocked sender's blob", "blob", id.Short())
		return nil
	}
	if m.Time.Before(now.Add(-lifetime-c.skew)) || m.Time.After(now.Add(c.skew)) {
		return reject(RejectTime, m.Time.UTC().Format(time.RFC3339))
	}
	mid := positionID(m.Pos)
	seen, err := c.st.MarkSeen(from.Fingerprint(), mid, pid, now)
	if err != nil || seen != SeenNew {
		return err
	}
	return c.deliver(from, seal.ContentType(m.Type), m.Content, m.Time, mid, true, reject, emit)
}

func trimOpen(err error) string {
	s := err.Error()
	const p = "failed to open: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func (c *Client) addChunk(from *Friend, ch seal.FileChunk, at time.Time, emit func(Event)) error {
	fp := from.Fingerprint()
	have, err := c.st.AddChunk(fp, ch, at)
	if err != nil || have < int(ch.Count) {
		return err
	}
	parts, err := c.st.TakeChunks(fp, ch)
	if err != nil {
		return err
	}
	var n uint64
	for _, p := range parts {
		n += uint64(len(p))
	}
	if n != ch.Size || len(parts) != int(ch.Count) {
		emit(FileShortEvent{From: from.Name, Time: at, Name: ch.Name, Got: n, Want: ch.Size})
		return nil
	}
	where := ""
	if c.files != nil {
		if where, err = c.files.Save(SafeFileName(ch.Name), parts); err != nil {
			return err
		}
	}
	if err := c.st.AddMessage(&Message{Friend: fp, Time: at, Kind: "file", Body: []byte(cmpStr(where, ch.Name))}); err != nil {
		return err
	}
	emit(FileEvent{From: from.Name, Time: at, Name: ch.Name, Size: n, Where: where})
	return nil
}
