package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// InviteTTL is how long an invite's blobs live on the relays and the invite is kept: long
// enough for a friend who reads the code tomorrow, short enough that a lost code soon means
// nothing.
const InviteTTL = 7 * 24 * time.Hour

// Invite makes an invite through relay: it puts my bundle there sealed under a fresh code
// and remembers the invite. name is what to call the friend ("" for the nickname they
// suggest), as the nickname I suggest for myself.
func (c *Client) Invite(ctx context.Context, relay, name, as string) (seal.Invite, error) {
	if name != "" {
		if err := CheckName(name); err != nil {
			return seal.Invite{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if taken, err := c.nameTaken(name); err != nil || (name != "" && taken) {
		return seal.Invite{}, cmpErr(err, fmt.Errorf("%w %q", ErrNameTaken, name))
	}
	s := c.session(ctx)
	defer s.close()
	cn, err := s.conn(relay, "")
	if err != nil {
		return seal.Invite{}, err
	}
	fp := cn.RelayFingerprint()
	inv, err := newInvite(c.id, relay, fp)
	if err != nil {
		return inv, err
	}
	blob, err := inv.SealInviterBlob(c.id, as)
	if err != nil {
		return inv, err
	}
	now := c.now()
	env, err := makeEnvelope(cn.Hello(), now, inv.InviterTag(), InviteTTL, blob)
	if err != nil {
		return inv, err
	}
	if err := put(ctx, cn, env); err != nil {
		return inv, err
	}
	rec := &InviteRecord{Invite: inv, RelayFP: fp, Name: name, Created: now, Expires: now.Add(InviteTTL)}
	if err := c.st.PutInvite(rec); err != nil {
		return inv, fmt.Errorf("failed to store invite: %w", err)
	}
	return inv, nil
}

// AcceptOptions tune Accept.
type AcceptOptions struct {
	Name  string        // what to call the inviter (required)
	As    string        // the nickname I suggest for myself
	Relay string        // answer through this relay instead of the invite's (mine, linked to it)
	Wait  time.Duration // how long to wait for the inviter's blob to reach the relay
}

// Accept answers an invite code: it fetches the inviter's bundle (checked under the code),
// refuses an invite somebody answered already, puts my answer and stores the friend. The
// friend's relay (where I send) is the invite's; mine (where I read) is the one I answered
// through.
func (c *Client) Accept(ctx context.Context, inv seal.Invite, o AcceptOptions) (*Friend, error) {
	if err := CheckName(o.Name); err != nil {
		return nil, err
	}
	if !inv.Bound() {
		return nil, ErrUnboundInvite
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if taken, err := c.nameTaken(o.Name); err != nil || taken {
		return nil, cmpErr(err, fmt.Errorf("%w %q", ErrNameTaken, o.Name))
	}
	addr, fp := inv.Relay, inviteRelayFP(inv)
	if o.Relay != "" && o.Relay != inv.Relay {
		addr, fp = o.Relay, ""
	}
	s := c.session(ctx)
	defer s.close()
	cn, err := s.conn(addr, fp)
	if err != nil {
		return nil, err
	}
	inviter, nick, err := awaitInvite(ctx, cn, inv, o.Wait)
	if err != nil {
		return nil, err
	}
	if inviter.Fingerprint() == c.id.Fingerprint() {
		return nil, ErrOwnInvite
	}
	if other, err := c.friendByFP(inviter.Fingerprint()); err != nil {
		return nil, err
	} else if other != nil {
		return nil, fmt.Errorf("%w: this invite is from %s", ErrAlreadyFriend, other.Name)
	}
	if err := c.checkUnanswered(ctx, cn, inv, nick, o.Name); err != nil {
		return nil, err
	}
	myFP := cn.RelayFingerprint()
	blob, pair, err := sealAnswer(inv, c.id, inviter, answerInfo{Nick: o.As, Relay: addr, RelayFP: myFP})
	if err != nil {
		return nil, err
	}
	env, err := makeEnvelope(cn.Hello(), c.now(), inv.AcceptorTag(), InviteTTL, blob)
	if err != nil {
		return nil, err
	}
	if err := put(ctx, cn, env); err != nil {
		return nil, err
	}
	theirFP := inviteRelayFP(inv)
	if addr == inv.Relay {
		theirFP = myFP
	}
	f := &Friend{Name: o.Name, Bundle: inviter, Pair: pair, TheirRelay: inv.Relay, TheirRelayFP: theirFP,
		MyRelay: addr, MyRelayFP: myFP, Added: c.now()}
	if err := c.st.PutFriend(f); err != nil {
		return nil, fmt.Errorf("failed to store friend: %w", err)
	}
	return f, nil
}

// checkUnanswered refuses an invite that already has a valid answer (single use).
func (c *Client) checkUnanswered(ctx context.Context, cn Conn, inv seal.Invite, nick, name string) error {
	var taken bool
	_, err := fetchAll(ctx, cn, []echo.Tag{echo.Tag(inv.AcceptorTag())}, 0, func(it echo.Item) error {
		e, err := echo.ParseEnvelope(it.Envelope)
		if err != nil {
			return nil
		}
		if fp, err := peekAnswer(inv, e.Payload); err == nil && fp != c.id.Fingerprint() {
			taken = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if taken {
		who := nickName(nick, seal.Fingerprint{})
		if nick == "" {
			who = name
		}
		return fmt.Errorf("%w; ask %s for a new one", ErrAlreadyAnswered, who)
	}
	return nil
}

// awaitInvite subscribes to the invite's tag and returns the first blob that opens under the
// code, waiting at most wait for it to arrive.
func awaitInvite(ctx context.Context, cn Conn, inv seal.Invite, wait time.Duration) (*seal.Bundle, string, error) {
	sctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	type found struct {
		b    *seal.Bundle
		nick string
	}
	got := make(chan found, 1)
	var lastErr error
	err := cn.Subscribe(sctx, []echo.Tag{echo.Tag(inv.InviterTag())}, 0, func(it echo.Item) {
		e, err := echo.ParseEnvelope(it.Envelope)
		if err != nil {
			lastErr = err
			return
		}
		b, nick, err := inv.OpenInviterBlob(e.Payload)
		if err != nil {
			lastErr = err
			return
		}
		select {
		case got <- found{b, nick}:
		default:
		}
		cancel()
	}, nil)
	select {
	case f := <-got:
		return f.b, f.nick, nil
	default:
	}
	if lastErr != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadInvite, lastErr)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil, "", fmt.Errorf("%w within %s", ErrNoInvite, wait)
	}
	return nil, "", fmt.Errorf("waiting for the invite failed: %w", err)
}

// PendingInvites lists my invites nobody answered yet.
func (c *Client) PendingInvites() ([]*InviteRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all, err := c.st.Invites()
	if err != nil {
		return nil, err
	}
	var out []*InviteRecord
	for _, r := range all {
		if r.State == InvitePending {
			out = append(out, r)
		}
	}
	return out, nil
}

// finishInvites reads the answers to my invites: the first valid one of a pending invite
// adds a friend; a later, different valid one of a used invite is reported; expired invites
// are forgotten.
func (s *session) finishInvites(override string, emit func(Event)) error {
	c := s.c
	recs, err := c.st.Invites()
	if err != nil {
		return err
	}
	now := c.now()
	for _, r := range recs {
		if now.After(r.Expires) {
			if r.State == InvitePending {
				emit(InviteExpiredEvent{Created: r.Created, Name: r.Name, At: now})
			}
			if err := c.st.DropInvite(r.Invite.Secret); err != nil {
				return err
			}
			continue
		}
		addr, fp := r.Invite.Relay, r.RelayFP
		if override != "" && override != addr {
			addr, fp = override, ""
		}
		cn, err := s.conn(addr, fp)
		if err != nil {
			continue // s.failed has it
		}
		tag := r.Invite.AcceptorTag()
		scope := fmt.Sprintf("invite:%x", tag[:8])
		cur, err := c.st.Cursor(addr, scope)
		if err != nil {
			return err
		}
		next, err := fetchAll(s.ctx, cn, []echo.Tag{echo.Tag(tag)}, cur, func(it echo.Item) error {
			return s.handleAnswer(r, it, addr, emit)
		})
		if err != nil {
			s.fail(addr, err)
			continue
		}
		if err := c.st.SetCursor(addr, scope, next); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) handleAnswer(r *InviteRecord, it echo.Item, addr string, emit func(Event)) error {
	c := s.c
	id := echo.BlobID(it.Envelope)
	now := c.now()
	e, err := echo.ParseEnvelope(it.Envelope)
	if err != nil {
		emit(RejectedEvent{Blob: id, Reason: RejectMalformed, Detail: "invite answer", At: now})
		return nil
	}
	a, err := openAnswer(r.Invite, c.id, e.Payload)
	if err != nil {
		emit(RejectedEvent{Blob: id, Reason: RejectNotForMe, Detail: "invite answer: " + err.Error(), At: now})
		return nil
	}
	fp := a.Acceptor.Fingerprint()
	if r.State == InviteUsed {
		if fp != r.Acceptor {
			name := r.Name
			if f, _ := c.friendByFP(r.Acceptor); f != nil {
				name = f.Name
			}
			emit(InviteAnsweredTwiceEvent{Name: name, At: now})
		}
		return nil
	}
	r.State, r.Acceptor = InviteUsed, fp
	if err := c.st.PutInvite(r); err != nil {
		return err
	}
	if other, err := c.friendByFP(fp); err != nil {
		return err
	} else if other != nil {
		emit(RejectedEvent{Blob: id, Reason: RejectAlreadyFriend, Detail: other.Name, At: now})
		return nil
	}
	name, err := c.pickName(r.Name, a.Nick, fp)
	if err != nil {
		return err
	}
	their, theirFP := a.Relay, a.RelayFP
	if their == "" { // an answer from before the answer carried the acceptor's relay
		their, theirFP = r.Invite.Relay, r.RelayFP
	}
	f := &Friend{Name: name, Bundle: a.Acceptor, Pair: a.Pair, TheirRelay: their, TheirRelayFP: theirFP,
		MyRelay: r.Invite.Relay, MyRelayFP: r.RelayFP, Added: now}
	if err := c.st.PutFriend(f); err != nil {
		return fmt.Errorf("failed to store friend: %w", err)
	}
	emit(FriendAddedEvent{Name: name, SafetyNumber: c.SafetyNumber(f), At: now})
	return nil
}

// pickName: the name given at invite time, else the one the friend suggested, else one from
// the short ID; "-2", "-3", … when taken.
func (c *Client) pickName(given, nick string, fp seal.Fingerprint) (string, error) {
	base := given
	if base == "" {
		base = nickName(nick, fp)
	}
	name := base
	for i := 2; i < 1000; i++ {
		taken, err := c.nameTaken(name)
		if err != nil {
			return "", err
		}
		if !taken {
			return name, nil
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name, nil
}
