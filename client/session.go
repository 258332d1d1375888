package client

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/client/ratchet"
	"github.com/echorelay/echorelay/echo/seal"
)

// Ratchet sessions (PROTOCOL.md 7.8): every friend gets one pairwise session. The side that
// sends first without a session starts one: its messages are sealed to the friend's
// long-term keys and signed as before (content type TypeSession, carrying the session start
// and the content), until the friend's first ratchet message arrives; from then on every
// message goes over the ratchet, without signatures.
//
//	no session ──send──▶ started (I am the initiator; my sealed messages carry the start)
//	started ──the friend's ratchet message──▶ established
//	no session / started ──the friend's start──▶ established (responder; a lower ID wins a tie)
//	established ──the friend's new start, or their state went back──▶ reset: a new session

// Content types of PROTOCOL.md 7.4 that are new with the ratchet.
const (
	// TypeSession is a sealed message that starts a session: start || content_type || content.
	TypeSession seal.ContentType = 3
	// TypeControl is a control payload for another part of the client (groups):
	// control_type u8 || payload. It is not kept in the history.
	TypeControl seal.ContentType = 16
)

// SessionRecord is what a Store keeps of the session with one friend.
type SessionRecord struct {
	Friend    seal.Fingerprint
	ID        [16]byte
	Initiator bool
	// Start is the session start (sessionStart.marshal) while I am the initiator and the
	// friend has not answered over the ratchet: every sealed message of mine repeats it.
	Start []byte
	State []byte // ratchet.Session.Marshal
	// Started is when the session began (the initiator's clock, as signed in its start).
	Started time.Time
	// PeerSince is the friend's time of their first message that proved they speak the
	// ratchet (zero until then). Old-format messages they date later are refused.
	PeerSince time.Time
	Reported  int // the gap count last reported in a GapEvent
	// Spoke is the earliest PeerSince of this friend's sessions, carried over when one
	// replaces another: the downgrade rule's time (a friend does not unlearn the ratchet).
	Spoke time.Time
	// Prev is the state of the session this one replaced, kept to open the friend's messages
	// still in flight on it until PrevUntil (ratchet.MaxAge after the replacement); never
	// used to send.
	Prev      []byte
	PrevUntil time.Time
}

// replaces makes rec the successor of old: old's state is kept for reading when the friend
// spoke it.
func (rec *SessionRecord) replaces(old *SessionRecord, now time.Time) {
	if old == nil {
		return
	}
	if !old.PeerSince.IsZero() {
		rec.Prev, rec.PrevUntil = old.State, now.Add(ratchet.MaxAge)
	}
	if !old.Spoke.IsZero() && (rec.Spoke.IsZero() || old.Spoke.Before(rec.Spoke)) {
		rec.Spoke = old.Spoke
	}
}

// sessionStart is the start of a session (PROTOCOL.md 7.8.2):
//
//	start_version u8 (1) || flags u8 (bit 0 reset) || session_id [16] || secret [32] || dh_pub [32]
type sessionStart struct {
	reset  bool
	id     [16]byte
	secret [32]byte
	pub    [32]byte
}

const startSize = 2 + 16 + 32 + 32

func (s *sessionStart) marshal() []byte {
	b := make([]byte, 0, startSize)
	flags := byte(0)
	if s.reset {
		flags = 1
	}
	b = append(b, 1, flags)
	b = append(b, s.id[:]...)
	b = append(b, s.secret[:]...)
	return append(b, s.pub[:]...)
}

// parseSessionContent splits a TypeSession content into the start and the inner content
// (type 0: none).
func parseSessionContent(b []byte) (*sessionStart, seal.ContentType, []byte, error) {
	if len(b) < startSize+1 || b[0] != 1 || b[1]&^1 != 0 {
		return nil, 0, nil, fmt.Errorf("%w: session start", seal.ErrMalformed)
	}
	s := &sessionStart{reset: b[1]&1 != 0}
	copy(s.id[:], b[2:])
	copy(s.secret[:], b[18:])
	copy(s.pub[:], b[50:])
	return s, seal.ContentType(b[startSize]), b[startSize+1:], nil
}

// sessionAD binds a session to both identities and its ID.
func sessionAD(initiator, responder seal.Fingerprint, id [16]byte) []byte {
	ad := append([]byte("echorelay-ratchet-v1"), initiator[:]...)
	ad = append(ad, responder[:]...)
	return append(ad, id[:]...)
}

// positionID is the seen set's message ID of a ratchet message.
func positionID(p ratchet.Position) seal.MessageID {
	h := sha256.New()
	h.Write([]byte("echorelay-ratchet-v1/position"))
	h.Write(p.DH[:])
	h.Write(binary.BigEndian.AppendUint32(nil, p.N))
	var id seal.MessageID
	copy(id[:], h.Sum(nil))
	return id
}

func openState(rec *SessionRecord) (*ratchet.Session, error) {
	s, err := ratchet.Unmarshal(rec.State)
	if err != nil {
		return nil, fmt.Errorf("%w: session: %v", ErrCorrupt, err)
	}
	s.SetRand(rand.Reader)
	return s, nil
}

// startSession makes me the initiator of a new session with f.
func (c *Client) startSession(f *Friend, now time.Time, reset bool) (*SessionRecord, error) {
	st := &sessionStart{reset: reset}
	if _, err := rand.Read(st.id[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(st.secret[:]); err != nil {
		return nil, err
	}
	priv, pub, err := ratchet.NewKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	st.pub = pub
	s, err := ratchet.NewReceiver(rand.Reader, sessionAD(c.id.Fingerprint(), f.Fingerprint(), st.id), st.secret[:], priv, now)
	if err != nil {
		return nil, err
	}
	rec := &SessionRecord{Friend: f.Fingerprint(), ID: st.id, Initiator: true, Start: st.marshal(), State: s.Marshal(), Started: now}
	old, err := c.st.Session(f.Fingerprint())
	if err != nil {
		return nil, err
	}
	rec.replaces(old, now)
	if err := c.st.PutSession(rec); err != nil {
		return nil, fmt.Errorf("failed to keep the session: %w", err)
	}
	return rec, nil
}

// sealer seals a send's messages to f: over the ratchet once the session can send, else
// sealed to f's long-term keys with the session start. It starts a session when there is
// none.
type sealer struct {
	c   *Client
	f   *Friend
	rec *SessionRecord
	rs  *ratchet.Session // nil: sealed
}

func (c *Client) sealerFor(f *Friend, now time.Time) (*sealer, error) {
	rec, err := c.st.Session(f.Fingerprint())
	if err != nil {
		return nil, err
	}
	if rec == nil {
		if rec, err = c.startSession(f, now, false); err != nil {
			return nil, err
		}
	}
	s, err := openState(rec)
	if err != nil {
		return nil, err
	}
	sl := &sealer{c: c, f: f, rec: rec}
	if s.CanSend() {
		sl.rs = s
	}
	return sl, nil
}

// maxContent is the largest content of one message for a payload of at most maxPayload.
func (sl *sealer) maxContent(maxPayload int) int {
	if sl.rs != nil {
		return ratchet.MaxContent(maxPayload)
	}
	return seal.MaxContent(sl.f.Bundle.KEMID(), maxPayload) - startSize - 1
}

// tag is the mailbox tag of a message sealed now.
func (sl *sealer) tag(now time.Time) [32]byte {
	if sl.rs != nil {
		return sl.rs.SendTag(now)
	}
	return seal.MailboxTag(sl.f.Pair, sl.c.id.Fingerprint(), seal.Epoch(now))
}

func (sl *sealer) seal(typ seal.ContentType, content []byte, now time.Time) ([]byte, error) {
	if sl.rs != nil {
		return sl.rs.Seal(ratchet.Message{Time: now, Type: uint8(typ), Content: content})
	}
	body := append(append(bytes.Clone(sl.rec.Start), byte(typ)), content...)
	p, _, err := seal.Seal(sl.c.id, sl.f.Bundle, TypeSession, body, now)
	return p, err
}

// save keeps the advanced ratchet state (before the envelopes go to the outbox: a crash in
// between costs a gap, never a reused message key).
func (sl *sealer) save() error {
	if sl.rs == nil {
		return nil
	}
	sl.rec.State = sl.rs.Marshal()
	if err := sl.c.st.PutSession(sl.rec); err != nil {
		return fmt.Errorf("failed to keep the session: %w", err)
	}
	return nil
}

// takeStart applies a friend's session start that came in a sealed message dated at. It
// reports a reset when it replaced an established session.
func (c *Client) takeStart(f *Friend, st *sessionStart, at time.Time, emit func(Event)) error {
	rec, err := c.st.Session(f.Fingerprint())
	if err != nil {
		return err
	}
	established := false
	if rec != nil {
		switch {
		case rec.ID == st.id:
			return nil // the same start again (every sealed message of the starter carries it)
		case !rec.PeerSince.IsZero() && at.Before(rec.PeerSince):
			// Made before the friend took up the current session (their clock both times):
			// a start that lost a tie, or an old one.
			return nil
		case rec.PeerSince.IsZero() && at.Before(rec.Started.Add(-c.skew)):
			return nil // older than the start of mine that waits for an answer
		case rec.Initiator && rec.PeerSince.IsZero():
			// Both started at once: the lower ID wins, on both sides.
			if bytes.Compare(st.id[:], rec.ID[:]) > 0 {
				return nil
			}
		default:
			established = true
		}
	}
	s, err := ratchet.NewSender(rand.Reader, sessionAD(f.Fingerprint(), c.id.Fingerprint(), st.id), st.secret[:], st.pub, c.now())
	if err != nil {
		return fmt.Errorf("%w: session start: %v", seal.ErrMalformed, err)
	}
	now := c.now()
	var notice []byte
	if established && !st.reset {
		// The friend started over without knowing that a session existed (their history
		// is gone): tell them, over the new session.
		p, err := s.Seal(ratchet.Message{Time: now, Type: uint8(TypeControl), Content: []byte{controlSessionNotice}})
		if err != nil {
			return err
		}
		if notice, err = makeEnvelope(defaultHello(), now, s.SendTag(now), DefaultTTL, p); err != nil {
			return err
		}
	}
	nrec := &SessionRecord{Friend: f.Fingerprint(), ID: st.id, State: s.Marshal(), Started: at, PeerSince: at, Spoke: at}
	nrec.replaces(rec, now)
	if err := c.st.PutSession(nrec); err != nil {
		return fmt.Errorf("failed to keep the session: %w", err)
	}
	if notice != nil {
		if err := c.queue(f, "session notice", notice, now); err != nil {
			return err
		}
	}
	if established || st.reset {
		emit(SessionResetEvent{From: f.Name, Reason: ResetByFriend, At: now})
	}
	return nil
}

// controlSessionNotice is the control type the client keeps for itself: "you started a new
// session while I had one with you" (PROTOCOL.md 7.8.8). Control types 1-255 are for others.
const controlSessionNotice = 0

// queue puts one envelope for f in the outbox, to go at the end of this Receive.
func (c *Client) queue(f *Friend, what string, env []byte, now time.Time) error {
	var group [16]byte
	if _, err := rand.Read(group[:]); err != nil {
		return err
	}
	if err := c.st.AddOutbox([]*OutboxEntry{{Group: group, To: f.Fingerprint(), Relay: f.TheirRelay, Created: now, What: what, Envelope: env}}); err != nil {
		return fmt.Errorf("failed to keep the %s in the outbox: %w", what, err)
	}
	c.resetQueued = true
	return nil
}

// ratchetOpened is a ratchet message that opened, or the reason it did not.
type ratchetOpened struct {
	from *Friend
	rec  *SessionRecord
	rs   *ratchet.Session
	prev *ratchet.Session // set when the message opened with the replaced session
	o    *ratchet.Opened
	err  error // nil, ratchet.ErrDuplicate or ratchet.ErrStale (from), or another refusal
}

// openRatchet finds the session of candidates whose keys open payload.
func (c *Client) openRatchet(payload []byte, candidates []*Friend, now time.Time) (*ratchetOpened, error) {
	if err := ratchet.ParsePayload(payload); err != nil {
		return &ratchetOpened{err: err}, nil
	}
	for _, f := range candidates {
		rec, err := c.st.Session(f.Fingerprint())
		if err != nil {
			return nil, err
		}
		if rec == nil {
			continue
		}
		s, err := openState(rec)
		if err != nil {
			return nil, err
		}
		o, err := s.Open(payload, now)
		if errors.Is(err, ratchet.ErrNotMine) && rec.Prev != nil && now.Before(rec.PrevUntil) {
			// A late message of the session this one replaced. Only what opens counts: a
			// duplicate or a stale header there is no reason for another reset.
			prev, perr := ratchet.Unmarshal(rec.Prev)
			if perr != nil {
				return nil, fmt.Errorf("%w: previous session: %v", ErrCorrupt, perr)
			}
			prev.SetRand(rand.Reader)
			if o, err := prev.Open(payload, now); err == nil {
				return &ratchetOpened{from: f, rec: rec, rs: s, prev: prev, o: o}, nil
			}
		}
		if errors.Is(err, ratchet.ErrNotMine) {
			continue
		}
		return &ratchetOpened{from: f, rec: rec, rs: s, o: o, err: err}, nil
	}
	return &ratchetOpened{err: ratchet.ErrNotMine}, nil
}

// save keeps the sessions after a message opened.
func (r *ratchetOpened) save(c *Client, now time.Time) error {
	if r.prev != nil {
		r.rec.Prev = r.prev.Marshal()
	} else {
		r.rec.State = r.rs.Marshal()
		if r.rec.PeerSince.IsZero() {
			r.rec.PeerSince, r.rec.Start = r.o.Time, nil
			if r.rec.Spoke.IsZero() || r.o.Time.Before(r.rec.Spoke) {
				r.rec.Spoke = r.o.Time
			}
		}
	}
	if r.rec.Prev != nil && !now.Before(r.rec.PrevUntil) {
		r.rec.Prev, r.rec.PrevUntil = nil, time.Time{}
	}
	if err := c.st.PutSession(r.rec); err != nil {
		return fmt.Errorf("failed to keep the session: %w", err)
	}
	return nil
}

// resetSession starts a new session with f because theirs went back, and puts its start in
// the outbox (a sealed message without content).
func (c *Client) resetSession(f *Friend, now time.Time, emit func(Event)) error {
	rec, err := c.st.Session(f.Fingerprint())
	if err != nil {
		return err
	}
	if rec != nil && rec.Initiator && rec.PeerSince.IsZero() {
		return nil // a start of mine is already on its way
	}
	if rec, err = c.startSession(f, now, true); err != nil {
		return err
	}
	p, _, err := seal.Seal(c.id, f.Bundle, TypeSession, append(bytes.Clone(rec.Start), 0), now)
	if err != nil {
		return err
	}
	env, err := makeEnvelope(defaultHello(), now, seal.MailboxTag(f.Pair, c.id.Fingerprint(), seal.Epoch(now)), DefaultTTL, p)
	if err != nil {
		return err
	}
	if err := c.queue(f, "session reset", env, now); err != nil {
		return err
	}
	c.tagGen.Add(1)
	emit(SessionResetEvent{From: f.Name, Reason: ResetFriendWentBack, At: now})
	return nil
}

// reportGap emits a GapEvent when the number of f's messages known to be missing changed.
func (c *Client) reportGap(f *Friend, rec *SessionRecord, rs *ratchet.Session, emit func(Event)) {
	if n := rs.Missing(); n != rec.Reported {
		rec.Reported = n
		emit(GapEvent{From: f.Name, Missing: n, At: c.now()})
	}
}

// receiveTags lists the tags f's messages can come under now: the pair's (sealed messages,
// and old ones still at relays) and the session's, at most echo.MaxTagsPerReq.
func (c *Client) receiveTags(f *Friend, now time.Time, back, max int) ([][32]byte, error) {
	tags := seal.ReceiveTags(f.Pair, f.Fingerprint(), now, back)
	rec, err := c.st.Session(f.Fingerprint())
	if err != nil || rec == nil {
		return tags, err
	}
	s, err := openState(rec)
	if err != nil {
		return nil, err
	}
	n := max - len(tags)
	if rec.Prev != nil && now.Before(rec.PrevUntil) {
		n -= n / 4
		prev, err := ratchet.Unmarshal(rec.Prev)
		if err != nil {
			return nil, fmt.Errorf("%w: previous session: %v", ErrCorrupt, err)
		}
		tags = append(tags, prev.ReceiveTags(now, back, max-len(tags)-n)...)
	}
	return append(tags, s.ReceiveTags(now, back, n)...), nil
}
