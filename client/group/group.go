package group

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

// Bounds of one group's state. Each is enforced; what falls out is reported, never kept.
const (
	// MaxEpochs bounds the epoch secrets kept for reading: the current one and older ones for
	// messages still in flight, or sent by members who had not applied a commit yet.
	MaxEpochs = 8
	// MaxPendingBlobs and MaxPendingBytes bound the messages that wait for their sender's key
	// (a key and a message travel separately, so the message may come first).
	MaxPendingBlobs = 512
	MaxPendingBytes = 16 << 20
	// MaxPendingKeys bounds the sender keys that wait for the commit that adds their sender.
	MaxPendingKeys = 256
	// tagGraceDays: an epoch's tags are read from the day before it started to this many
	// days after its successor started (members apply commits late).
	tagGraceDays = 1
)

// Message is one opened group message.
type Message struct {
	Group      ID
	Sender     Fingerprint
	SenderNick string // as the admin's commit names it
	Time       time.Time
	ID         seal.MessageID
	Type       seal.ContentType
	Content    []byte
	Epoch      uint32 // the epoch whose key opened its header
	Generation uint32
	Index      uint32
	// Late: it arrived after a later message of its sender (a client shows it in its place,
	// by Time). Gap: how many earlier messages of its sender had not arrived when it opened
	// ("2 messages from sam did not arrive yet"); they may still come, Late.
	Late bool
	Gap  uint32
}

// Change is one membership change this member applied.
type Change struct {
	Epoch   uint32
	Joined  bool // this member joined (the first commit it applied)
	Gone    bool // this member was removed
	Added   []Member
	Removed []Fingerprint
}

// Update is what one call brought: opened messages in order (sender time, then sender,
// generation and index), membership changes, refused payloads (each wraps one sentinel) and
// a count of what was skipped silently (duplicates, own messages, messages sent before this
// member could read them).
type Update struct {
	Messages []Message
	Changes  []Change
	Refused  []error
	Skipped  int
}

func (u *Update) refuse(err error) { u.Refused = append(u.Refused, err) }

func (u *Update) merge(o Update) {
	u.Messages = append(u.Messages, o.Messages...)
	u.Changes = append(u.Changes, o.Changes...)
	u.Refused = append(u.Refused, o.Refused...)
	u.Skipped += o.Skipped
}

func sortMessages(ms []Message) {
	slices.SortStableFunc(ms, func(a, b Message) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := bytes.Compare(a.Sender[:], b.Sender[:]); c != 0 {
			return c
		}
		if a.Generation != b.Generation {
			return cmpU32(a.Generation, b.Generation)
		}
		return cmpU32(a.Index, b.Index)
	})
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// epochState is what one commit gives for reading: its secret, header key and members.
type epochState struct {
	n       uint32
	secret  [32]byte
	hk      [32]byte
	start   time.Time
	members map[Fingerprint]bool
}

// former is a removed member whose messages sent before the removal are still accepted: below
// the ends the admin's commit named, and none while the ends are unknown.
type former struct {
	ends  map[uint32]uint32 // generation → first index no longer accepted
	known bool
}

// cutoffAt is a removed member's chain ends as the commit of epoch named them.
type cutoffAt struct {
	epoch uint32
	ends  []ChainEnd
}

type pendingBlob struct {
	blob   []byte
	sender Fingerprint
}

type pendingKey struct {
	from Fingerprint
	key  *SenderKey
}

type outgoing struct {
	to      Fingerprint
	payload []byte
}

type outPut struct {
	tag  [32]byte
	blob []byte
}

// Group is one member's state of one group. Its methods are safe for concurrent use; the
// transport is called without the group's lock held.
//
// The state of membership (the admin's commits, ordered by epoch):
//
//	          Create / Join          commit n+1 (this member stays)
//	(none) ─────────────────► member ◄───────────────────────────┐
//	                           │  └───────────────────────────────┘
//	                           │ commit without this member, or Leave
//	                           ▼
//	                         gone (keys wiped; the last commit stays for display)
type Group struct {
	mu  sync.Mutex
	cfg Config
	id  ID

	// membership
	cur     *Commit // the newest commit applied
	hash    [32]byte
	epochs  []*epochState // ascending by epoch, at most MaxEpochs
	gone    bool
	formers map[Fingerprint]*former
	cutoffs map[Fingerprint]cutoffAt // from every commit seen, the newest per member
	keys    map[Fingerprint][32]byte // KeyHash of the members of the kept epochs

	// keys
	own       ownChain
	chains    map[Fingerprint][]*recvChain // ascending by (epoch, generation)
	skipped   map[skipKey][32]byte
	skipOrder []skipKey // insertion order, for evicting the oldest

	// waiting for keys or commits
	pendingKeys  []pendingKey
	pendingBlobs []pendingBlob
	pendingBytes int

	out  []outgoing // pairwise payloads queued under mu, sent after it
	puts []outPut   // announcements queued under mu, put after it
}

func newGroup(cfg Config, id ID) *Group {
	return &Group{cfg: cfg, id: id, formers: map[Fingerprint]*former{}, cutoffs: map[Fingerprint]cutoffAt{},
		keys: map[Fingerprint][32]byte{}, chains: map[Fingerprint][]*recvChain{}, skipped: map[skipKey][32]byte{}}
}

// Create makes a new group with this member as its admin and others as the first members
// (each with its signature keys), sends each of them the first commit (its welcome) and
// announces this member's chain.
func Create(ctx context.Context, tr Transport, cfg Config, name string, policy Policy, others []Member, now time.Time) (*Group, error) {
	if cfg.Sign == nil || !validKeys(cfg.Keys) {
		return nil, fmt.Errorf("failed to create group: %w: no signature keys", ErrMalformed)
	}
	for _, m := range others {
		if m.KeyHash == [32]byte{} {
			return nil, fmt.Errorf("failed to create group: %w: a member without signature keys", ErrMalformed)
		}
	}
	var id ID
	if _, err := io.ReadFull(cfg.rand(), id[:]); err != nil {
		return nil, fmt.Errorf("failed to draw a group id: %w", err)
	}
	members := []Member{{FP: cfg.Self, KeyHash: KeyHash(cfg.Keys)}}
	for _, m := range others {
		if !slices.ContainsFunc(members, func(x Member) bool { return x.FP == m.FP }) {
			members = append(members, m)
		}
	}
	if len(members) > MaxMembers {
		return nil, fmt.Errorf("failed to create group: %w (%d of at most %d)", ErrFull, len(members), MaxMembers)
	}
	sortMembers(members)
	c := &Commit{Group: id, Epoch: 1, Time: now, Admin: cfg.Self, Policy: policy, Name: name, Members: members}
	if _, err := io.ReadFull(cfg.rand(), c.EpochSecret[:]); err != nil {
		return nil, fmt.Errorf("failed to draw an epoch secret: %w", err)
	}
	payload, err := c.Marshal()
	if err != nil {
		return nil, fmt.Errorf("failed to create group: %w", err)
	}
	g := newGroup(cfg, id)
	g.mu.Lock()
	for _, m := range members {
		if m.FP != cfg.Self {
			g.queue(m.FP, payload)
		}
	}
	var upd Update
	err = g.applyCommit(c, &upd, now)
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return g, g.flush(ctx, tr)
}

// Join makes this member's state of a group from the admin's commit that names it (the
// welcome), and announces its own chain to the members. from is the pairwise sender of the
// payload and must be the admin the commit names.
func Join(ctx context.Context, tr Transport, cfg Config, from Fingerprint, payload []byte, now time.Time) (*Group, Update, error) {
	var upd Update
	if cfg.Sign == nil {
		return nil, upd, fmt.Errorf("failed to join group: %w: no signer", ErrMalformed)
	}
	c, err := ParseCommit(payload)
	if err != nil {
		return nil, upd, fmt.Errorf("failed to join group: %w", err)
	}
	if from != c.Admin {
		return nil, upd, fmt.Errorf("failed to join group: %w (the welcome came from another member)", ErrNotAdmin)
	}
	if c.member(cfg.Self) < 0 {
		return nil, upd, fmt.Errorf("failed to join group: %w (the commit does not name you)", ErrNotMember)
	}
	if i := c.member(cfg.Self); c.Members[i].KeyHash != KeyHash(cfg.Keys) {
		return nil, upd, fmt.Errorf("failed to join group: %w (the commit lists other keys for you)", ErrKeyChange)
	}
	g := newGroup(cfg, c.Group)
	g.mu.Lock()
	err = g.applyCommit(c, &upd, now)
	g.mu.Unlock()
	if err != nil {
		return nil, upd, err
	}
	return g, upd, g.flush(ctx, tr)
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return bytes.Compare(a.FP[:], b.FP[:]) })
}

func (g *Group) queue(to Fingerprint, payload []byte) {
	g.out = append(g.out, outgoing{to: to, payload: payload})
}

// flush sends what was queued, without the lock.
func (g *Group) flush(ctx context.Context, tr Transport) error {
	g.mu.Lock()
	out, puts := g.out, g.puts
	g.out, g.puts = nil, nil
	g.mu.Unlock()
	var errs []error
	for _, o := range out {
		if err := tr.SendPairwise(ctx, o.to, o.payload); err != nil {
			errs = append(errs, fmt.Errorf("failed to send a group control payload: %w", err))
		}
	}
	for _, p := range puts {
		if err := tr.Put(ctx, p.tag, p.blob); err != nil {
			errs = append(errs, fmt.Errorf("failed to put the chain announcement: %w", err))
		}
	}
	return errors.Join(errs...)
}

// announce queues this member's current chain as an announcement under the current epoch's
// tag of today.
func (g *Group) announce(now time.Time) error {
	es := g.epochs[len(g.epochs)-1]
	var nonce [nonceLen]byte
	if _, err := io.ReadFull(g.cfg.rand(), nonce[:]); err != nil {
		return fmt.Errorf("failed to draw a nonce: %w", err)
	}
	blob, err := sealAnnouncement(announceKey(es.secret, g.id), nonce, g.cfg.Self, &g.cfg.Keys, g.ownKey(), g.cfg.Sign)
	if err != nil {
		return err
	}
	g.puts = append(g.puts, outPut{tag: tagFor(es.secret, g.id, seal.Epoch(now)), blob: blob})
	return nil
}

// Reannounce puts this member's current chain again (from its current index), for when the put
// of an announcement failed: members who have the chain skip it, the others read from now on.
func (g *Group) Reannounce(ctx context.Context, tr Transport, now time.Time) error {
	g.mu.Lock()
	var err error
	if g.gone {
		err = ErrRemoved
	} else {
		err = g.announce(now)
	}
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("failed to announce the chain: %w", err)
	}
	return g.flush(ctx, tr)
}

// newOwn starts a new sending generation with a fresh chain and signing key.
func (g *Group) newOwn(gen uint32) error {
	var ck [32]byte
	if _, err := io.ReadFull(g.cfg.rand(), ck[:]); err != nil {
		return fmt.Errorf("failed to draw a chain key: %w", err)
	}
	_, sk, err := ed25519.GenerateKey(g.cfg.rand())
	if err != nil {
		return fmt.Errorf("failed to make a signing key: %w", err)
	}
	g.own = ownChain{gen: gen, ck: ck, sig: sk}
	return nil
}

// ownKey is this member's current chain as a payload: a receiver derives from here on.
func (g *Group) ownKey() []byte {
	k := SenderKey{Group: g.id, Epoch: g.cur.Epoch, Generation: g.own.gen, Index: g.own.index,
		ChainKey: g.own.ck, SigPub: [32]byte(g.own.sig.Public().(ed25519.PublicKey))}
	return k.Marshal()
}

// addEpoch keeps a commit's secret for reading (at most MaxEpochs, the newest).
func (g *Group) addEpoch(c *Commit) {
	for _, e := range g.epochs {
		if e.n == c.Epoch {
			return
		}
	}
	if len(g.epochs) == MaxEpochs && c.Epoch < g.epochs[0].n {
		return
	}
	e := &epochState{n: c.Epoch, secret: c.EpochSecret, hk: headerKey(c.EpochSecret, g.id), start: c.Time,
		members: make(map[Fingerprint]bool, len(c.Members))}
	for _, m := range c.Members {
		e.members[m.FP] = true
		g.keys[m.FP] = m.KeyHash
	}
	g.epochs = append(g.epochs, e)
	slices.SortFunc(g.epochs, func(a, b *epochState) int { return cmpU32(a.n, b.n) })
	if len(g.epochs) > MaxEpochs {
		g.epochs = g.epochs[len(g.epochs)-MaxEpochs:]
	}
}

// applyCommit applies one of the admin's commits: the newest wins, older ones only give their
// epoch secret and cutoffs, the same one again changes nothing.
func (g *Group) applyCommit(c *Commit, upd *Update, now time.Time) error {
	if g.gone {
		upd.Skipped++
		return nil
	}
	self := g.cfg.Self
	if g.cur == nil { // Create or Join
		g.cur, g.hash = c, c.Hash()
		g.addEpoch(c)
		if err := g.newOwn(0); err != nil {
			return err
		}
		if err := g.announce(now); err != nil {
			return err
		}
		g.recordCutoffs(c, upd)
		upd.Changes = append(upd.Changes, Change{Epoch: c.Epoch, Joined: true, Added: slices.Clone(c.Members)})
		return nil
	}
	switch {
	case c.Group != g.id:
		upd.refuse(fmt.Errorf("%w: a commit of another group", ErrMalformed))
		return nil
	case c.Admin != g.cur.Admin:
		upd.refuse(fmt.Errorf("%w: a commit names another admin", ErrNotAdmin))
		return nil
	case g.keysChanged(c):
		upd.refuse(fmt.Errorf("%w: epoch %d", ErrKeyChange, c.Epoch))
		return nil
	case c.Epoch < g.cur.Epoch: // late: its secret still opens messages of its epoch
		if c.member(self) >= 0 {
			g.addEpoch(c)
			for _, m := range c.Members { // removed before this member heard of them
				if g.cur.member(m.FP) < 0 {
					g.markFormer(m.FP, upd)
				}
			}
		}
		g.recordCutoffs(c, upd)
		g.retryKeys(upd)
		g.prune()
		upd.Skipped++
		return nil
	case c.Epoch == g.cur.Epoch:
		if c.Hash() != g.hash {
			upd.refuse(fmt.Errorf("%w: epoch %d", ErrFork, c.Epoch))
		} else {
			upd.Skipped++
		}
		return nil
	}
	old := g.cur
	g.cur, g.hash = c, c.Hash()
	if c.member(self) < 0 {
		g.wipe()
		upd.Changes = append(upd.Changes, Change{Epoch: c.Epoch, Gone: true})
		return nil
	}
	g.addEpoch(c)
	ch := Change{Epoch: c.Epoch}
	for _, m := range c.Members {
		if old.member(m.FP) < 0 {
			ch.Added = append(ch.Added, m)
			if g.formers[m.FP] != nil { // back after a removal: its old chains are void
				delete(g.formers, m.FP)
				g.dropChains(m.FP)
			}
		}
	}
	for _, m := range old.Members {
		if c.member(m.FP) < 0 {
			ch.Removed = append(ch.Removed, m.FP)
			g.markFormer(m.FP, upd)
		}
	}
	g.recordCutoffs(c, upd)
	if len(ch.Removed) > 0 {
		// The removed member knows every chain it was given: each member starts a new one and
		// announces it under the new epoch, whose secret the removed member never gets.
		if err := g.newOwn(g.own.gen + 1); err != nil {
			return err
		}
		if err := g.announce(now); err != nil {
			return err
		}
	} else if len(ch.Added) > 0 {
		// The current chain, from now on, not before: the newcomer reads from here.
		if err := g.announce(now); err != nil {
			return err
		}
	}
	upd.Changes = append(upd.Changes, ch)
	g.retryKeys(upd)
	g.retryBlobs(upd, nil)
	g.prune()
	return nil
}

// keysChanged reports whether c lists other signature keys for a member than a kept commit
// did: a fingerprint names one bundle, so one of the two commits lies.
func (g *Group) keysChanged(c *Commit) bool {
	for _, m := range c.Members {
		if k, ok := g.keys[m.FP]; ok && k != m.KeyHash {
			return true
		}
	}
	return false
}

// recordCutoffs keeps where the chains of the members c removed end, for the removed members
// known now or later (a commit may come before the older one that names the member).
func (g *Group) recordCutoffs(c *Commit, upd *Update) {
	for _, x := range c.Cutoffs {
		if old, ok := g.cutoffs[x.FP]; ok && old.epoch >= c.Epoch {
			continue
		}
		g.cutoffs[x.FP] = cutoffAt{epoch: c.Epoch, ends: x.Ends}
		if f := g.formers[x.FP]; f != nil {
			f.known = false
			g.resolveFormer(x.FP, upd)
		}
	}
}

// markFormer makes fp a removed member whose messages wait for their cutoff.
func (g *Group) markFormer(fp Fingerprint, upd *Update) {
	if g.formers[fp] == nil {
		g.formers[fp] = &former{}
		g.resolveFormer(fp, upd)
	}
}

func (g *Group) resolveFormer(fp Fingerprint, upd *Update) {
	f, x := g.formers[fp], g.cutoffs[fp]
	if f == nil || f.known || x.epoch == 0 {
		return
	}
	f.known, f.ends = true, map[uint32]uint32{}
	for _, e := range x.ends {
		f.ends[e.Generation] = e.End
	}
	g.retryBlobs(upd, &fp)
}

// prune forgets removed members that no kept epoch names any more.
func (g *Group) prune() {
	for fp := range g.formers {
		if !slices.ContainsFunc(g.epochs, func(e *epochState) bool { return e.members[fp] }) {
			delete(g.formers, fp)
			delete(g.keys, fp)
			delete(g.cutoffs, fp)
			g.dropChains(fp)
		}
	}
}

func (g *Group) dropChains(fp Fingerprint) {
	delete(g.chains, fp)
	for k := range g.skipped {
		if k.sender == fp {
			delete(g.skipped, k)
		}
	}
}

// wipe deletes every key: this member is out of the group.
func (g *Group) wipe() {
	g.gone = true
	g.own = ownChain{}
	g.chains, g.skipped, g.skipOrder = map[Fingerprint][]*recvChain{}, map[skipKey][32]byte{}, nil
	g.epochs, g.formers, g.cutoffs = nil, map[Fingerprint]*former{}, map[Fingerprint]cutoffAt{}
	g.keys, g.puts = map[Fingerprint][32]byte{}, nil
	g.pendingKeys, g.pendingBlobs, g.pendingBytes = nil, nil, 0
}
