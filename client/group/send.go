package group

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

// Send encrypts content once for the whole group with this member's chain and puts the blob
// under the group's tag of today. The message key is used once and forgotten.
func (g *Group) Send(ctx context.Context, tr Transport, typ seal.ContentType, content []byte, now time.Time) (seal.MessageID, error) {
	var id seal.MessageID
	if uint64(len(content)) > 1<<31 {
		return id, fmt.Errorf("failed to send to the group: %w: content of %d bytes", ErrMalformed, len(content))
	}
	g.mu.Lock()
	if g.gone {
		g.mu.Unlock()
		return id, fmt.Errorf("failed to send to the group: %w", ErrRemoved)
	}
	var nonce [nonceLen]byte
	if _, err := io.ReadFull(g.cfg.rand(), id[:]); err != nil {
		g.mu.Unlock()
		return id, fmt.Errorf("failed to draw a message id: %w", err)
	}
	if _, err := io.ReadFull(g.cfg.rand(), nonce[:]); err != nil {
		g.mu.Unlock()
		return id, fmt.Errorf("failed to draw a nonce: %w", err)
	}
	es := g.epochs[len(g.epochs)-1]
	mk, index := g.own.next(g.id, g.cfg.Self)
	h := header{sender: g.cfg.Self, gen: g.own.gen, index: index}
	blob := sealBlob(g.id, es.hk, mk, g.own.sig, h, inner{time: now, id: id, typ: typ, content: content}, nonce)
	tag := tagFor(es.secret, g.id, seal.Epoch(now))
	g.mu.Unlock()
	if err := tr.Put(ctx, tag, blob); err != nil {
		return id, fmt.Errorf("failed to send to the group: %w", err)
	}
	return id, nil
}

// SendText sends a text message.
func (g *Group) SendText(ctx context.Context, tr Transport, text string, now time.Time) (seal.MessageID, error) {
	return g.Send(ctx, tr, seal.TypeText, []byte(text), now)
}

// SendFile sends a file as chunks (PROTOCOL.md 7.4) that each fit a relay's maxBlob, one
// group message per chunk.
func (g *Group) SendFile(ctx context.Context, tr Transport, name string, data []byte, maxBlob int, now time.Time) ([]seal.MessageID, error) {
	if !seal.SafeName(name) {
		return nil, fmt.Errorf("failed to send file: %w: unsafe name", ErrMalformed)
	}
	per := MaxContent(maxBlob) - seal.FileChunkOverhead(len(name))
	if per <= 0 {
		return nil, fmt.Errorf("failed to send file: %w: no room for data in a blob of %d bytes", ErrMalformed, maxBlob)
	}
	count := max(1, (len(data)+per-1)/per)
	c := seal.FileChunk{Count: uint32(count), Size: uint64(len(data)), Name: name}
	if _, err := io.ReadFull(g.cfg.rand(), c.FileID[:]); err != nil {
		return nil, fmt.Errorf("failed to draw a file id: %w", err)
	}
	ids := make([]seal.MessageID, 0, count)
	for i := range count {
		c.Index = uint32(i)
		c.Data = data[i*per : min(len(data), (i+1)*per)]
		id, err := g.Send(ctx, tr, seal.TypeFile, c.Marshal(), now)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Add adds a member. The admin commits it; another member of an open group proposes it to
// the admin. The new member reads from the moment each sender learns of it, never before.
func (g *Group) Add(ctx context.Context, tr Transport, m Member, now time.Time) error {
	if !validName(m.Nick, true) {
		return fmt.Errorf("failed to add member: %w: nick of %d bytes", ErrMalformed, len(m.Nick))
	}
	if m.KeyHash == [32]byte{} {
		return fmt.Errorf("failed to add member: %w: no signature keys", ErrMalformed)
	}
	return g.change(ctx, tr, Proposal{Group: g.id, Op: OpAdd, FP: m.FP, Nick: m.Nick, KeyHash: m.KeyHash}, now)
}

// Remove removes a member: the admin commits it, with where the member's chains end; every
// remaining member then starts a new chain that the removed member never gets.
func (g *Group) Remove(ctx context.Context, tr Transport, fp Fingerprint, now time.Time) error {
	return g.change(ctx, tr, Proposal{Group: g.id, Op: OpRemove, FP: fp}, now)
}

// Leave asks the admin to remove this member and forgets the group's keys at once.
func (g *Group) Leave(ctx context.Context, tr Transport) error {
	g.mu.Lock()
	if g.gone {
		g.mu.Unlock()
		return nil
	}
	if g.cur.Admin == g.cfg.Self {
		g.mu.Unlock()
		return fmt.Errorf("failed to leave: %w", ErrAdminLeave)
	}
	p := Proposal{Group: g.id, Op: OpRemove, FP: g.cfg.Self}
	b, err := p.Marshal()
	if err == nil {
		g.queue(g.cur.Admin, b)
		g.wipe()
	}
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("failed to leave: %w", err)
	}
	return g.flush(ctx, tr)
}

func (g *Group) change(ctx context.Context, tr Transport, p Proposal, now time.Time) error {
	g.mu.Lock()
	var err error
	switch {
	case g.gone:
		err = ErrRemoved
	case g.cur.Admin == g.cfg.Self:
		var upd Update
		err = g.commitProposal(p, now, &upd)
	case g.cur.Policy != PolicyOpen:
		err = ErrNotAdmin
	default:
		var b []byte
		if b, err = p.Marshal(); err == nil {
			g.queue(g.cur.Admin, b)
		}
	}
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("failed to change the group's members: %w", err)
	}
	return g.flush(ctx, tr)
}

// handleProposal is the admin's side of a member's proposal.
func (g *Group) handleProposal(from Fingerprint, p *Proposal, now time.Time, upd *Update) error {
	switch {
	case g.gone || g.cur.Admin != g.cfg.Self:
		upd.refuse(fmt.Errorf("%w: a proposal to a member who is not the admin", ErrNotAdmin))
	case g.cur.member(from) < 0:
		upd.refuse(fmt.Errorf("%w: a proposal", ErrNotMember))
	case p.Op == OpRemove && p.FP == from: // leaving is always allowed
		return g.commitProposal(*p, now, upd)
	case g.cur.Policy != PolicyOpen:
		upd.refuse(fmt.Errorf("%w: a member's proposal in an admin-only group", ErrNotAdmin))
	default:
		if err := g.commitProposal(*p, now, upd); err != nil {
			upd.refuse(err)
		}
	}
	return nil
}

// commitProposal makes the admin's next commit. Proposals that change nothing (a duplicate
// one, a member already in or out) make none, so repeated delivery commits once.
func (g *Group) commitProposal(p Proposal, now time.Time, upd *Update) error {
	members := slices.Clone(g.cur.Members)
	var cutoffs []Cutoff
	i := g.cur.member(p.FP)
	switch p.Op {
	case OpAdd:
		if i >= 0 {
			return nil
		}
		if len(members) >= MaxMembers {
			return ErrFull
		}
		members = append(members, Member{FP: p.FP, Nick: p.Nick, KeyHash: p.KeyHash})
		sortMembers(members)
	case OpRemove:
		if i < 0 {
			return nil
		}
		if p.FP == g.cfg.Self {
			return ErrAdminLeave
		}
		members = slices.Delete(members, i, i+1)
		x := Cutoff{FP: p.FP}
		for _, ch := range g.chains[p.FP] {
			x.Ends = append(x.Ends, ChainEnd{Generation: ch.gen, End: ch.index})
		}
		slices.SortFunc(x.Ends, func(a, b ChainEnd) int { return cmpU32(a.Generation, b.Generation) })
		x.Ends = slices.CompactFunc(x.Ends, func(a, b ChainEnd) bool { return a.Generation == b.Generation })
		cutoffs = []Cutoff{x}
	}
	c := &Commit{Group: g.id, Epoch: g.cur.Epoch + 1, Time: now, Admin: g.cfg.Self, Policy: g.cur.Policy,
		Name: g.cur.Name, Members: members, Cutoffs: cutoffs}
	if _, err := io.ReadFull(g.cfg.rand(), c.EpochSecret[:]); err != nil {
		return fmt.Errorf("failed to draw an epoch secret: %w", err)
	}
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	for _, m := range g.cur.Members { // the removed member learns it is out
		if m.FP != g.cfg.Self {
			g.queue(m.FP, b)
		}
	}
	if p.Op == OpAdd {
		g.queue(p.FP, b) // its welcome
	}
	return g.applyCommit(c, upd, now)
}

// ID is the group's ID.
func (g *Group) ID() ID { return g.id }

// Name is the group's name.
func (g *Group) Name() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur.Name
}

// Members lists the members of the newest commit applied, sorted by fingerprint.
func (g *Group) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.cur.Members)
}

// Admin is the admin's fingerprint.
func (g *Group) Admin() Fingerprint {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur.Admin
}

// Epoch is the newest epoch applied.
func (g *Group) Epoch() uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur.Epoch
}

// Policy is who may change the membership.
func (g *Group) Policy() Policy {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur.Policy
}

// Gone reports whether this member was removed or left.
func (g *Group) Gone() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gone
}

// Generation is this member's current sending generation (it grows at each removal).
func (g *Group) Generation() uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.own.gen
}
