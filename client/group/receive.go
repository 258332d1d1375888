package group

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

// HandleControl applies a control payload that came pairwise from a member: a commit (from
// the admin) or a proposal (to the admin). Late, repeated and reordered payloads are expected; each is
// applied once, in the order their epochs say.
func (g *Group) HandleControl(ctx context.Context, tr Transport, from Fingerprint, payload []byte, now time.Time) (Update, error) {
	var upd Update
	kind, id, err := PeekControl(payload)
	if err != nil {
		return upd, fmt.Errorf("failed to read group control payload: %w", err)
	}
	if id != g.id {
		return upd, fmt.Errorf("failed to read group control payload: %w", ErrUnknownGroup)
	}
	g.mu.Lock()
	switch kind {
	case KindCommit:
		var c *Commit
		if c, err = ParseCommit(payload); err == nil {
			if from != g.cur.Admin || c.Admin != from {
				upd.refuse(fmt.Errorf("%w: a commit from a member", ErrNotAdmin))
			} else {
				err = g.applyCommit(c, &upd, now)
			}
		}
	case KindSenderKey:
		// Chains travel as announcements under the group's tag, signed by their owner.
		upd.refuse(fmt.Errorf("%w: a sender key sent pairwise", ErrMalformed))
	case KindProposal:
		var p *Proposal
		if p, err = ParseProposal(payload); err == nil {
			err = g.handleProposal(from, p, now, &upd)
		}
	}
	sortMessages(upd.Messages)
	g.mu.Unlock()
	if err != nil {
		return upd, fmt.Errorf("failed to apply group control payload: %w", err)
	}
	return upd, g.flush(ctx, tr)
}

// handleSenderKey stores another member's chain from its verified announcement; a key whose
// sender is not a member yet waits for the commit that adds it.
func (g *Group) handleSenderKey(from Fingerprint, k *SenderKey, upd *Update) {
	if g.gone || from == g.cfg.Self {
		upd.Skipped++
		return
	}
	if g.cur.member(from) < 0 {
		f := g.formers[from]
		switch {
		case f != nil && k.Epoch < g.cur.Epoch:
			// A removed member's older chains still open what it sent before its cutoff.
		case f != nil && k.Epoch == g.cur.Epoch:
			upd.refuse(fmt.Errorf("%w: a sender key", ErrRemovedSender))
			return
		default:
			// Its sender joined (or joined again) in a commit not applied yet, or was removed
			// in one that has not come yet: it waits for the commit.
			if len(g.pendingKeys) == MaxPendingKeys {
				g.pendingKeys = g.pendingKeys[1:]
				upd.refuse(fmt.Errorf("%w: a sender key waited too long for its commit", ErrNoKey))
			}
			g.pendingKeys = append(g.pendingKeys, pendingKey{from: from, key: k})
			return
		}
	}
	list := g.chains[from]
	for i, ch := range list {
		if ch.gen != k.Generation {
			continue
		}
		if bytes32(ch.sigPub) == k.SigPub {
			// The same chain again; announced from an earlier index (a member who applied a
			// late commit reads the older announcement after the newer one), it opens more.
			if k.Index < ch.start && ch.start-k.Index <= MaxSkip {
				g.extendBack(ch, k)
				g.retryBlobs(upd, &from)
			} else {
				upd.Skipped++
			}
			return
		}
		if k.Epoch <= ch.epoch {
			upd.Skipped++ // an older hand-out of a chain replaced since
			return
		}
		// A new chain under a generation number seen before: the sender joined again.
		list = slices.Delete(list, i, i+1)
		g.dropSkipped(from, k.Generation)
		break
	}
	list = append(list, &recvChain{sender: from, gen: k.Generation, epoch: k.Epoch, start: k.Index,
		index: k.Index, ck: k.ChainKey, sigPub: ed25519.PublicKey(slices.Clone(k.SigPub[:]))})
	slices.SortFunc(list, func(a, b *recvChain) int {
		if a.epoch != b.epoch {
			return cmpU32(a.epoch, b.epoch)
		}
		return cmpU32(a.gen, b.gen)
	})
	for len(list) > MaxGenerations {
		g.dropSkipped(from, list[0].gen)
		list = list[1:]
	}
	g.chains[from] = list
	g.retryBlobs(upd, &from)
}

// extendBack stores the message keys of ch from k's index up to where ch started, as skipped
// keys: k announces the same chain from an earlier index.
func (g *Group) extendBack(ch *recvChain, k *SenderKey) {
	ck := k.ChainKey
	for i := k.Index; i < ch.start; i++ {
		var mk [32]byte
		mk, ck = chainStep(ck, g.id, ch.sender, ch.gen, i)
		g.addSkipped(skipKey{sender: ch.sender, gen: ch.gen, index: i}, mk)
	}
	ch.start = k.Index
}

func bytes32(b []byte) (out [32]byte) {
	copy(out[:], b)
	return out
}

func (g *Group) dropSkipped(sender Fingerprint, gen uint32) {
	for k := range g.skipped {
		if k.sender == sender && k.gen == gen {
			delete(g.skipped, k)
		}
	}
}

// retryKeys applies the waiting sender keys whose commit has come.
func (g *Group) retryKeys(upd *Update) {
	keys := g.pendingKeys
	g.pendingKeys = nil
	for _, p := range keys {
		g.handleSenderKey(p.from, p.key, upd)
	}
}

// retryBlobs opens the waiting messages again (of one sender, or all when sender is nil).
func (g *Group) retryBlobs(upd *Update, sender *Fingerprint) {
	var keep, retry []pendingBlob
	for _, p := range g.pendingBlobs {
		if sender == nil || p.sender == *sender {
			retry = append(retry, p)
		} else {
			keep = append(keep, p)
		}
	}
	if len(retry) == 0 {
		return
	}
	g.pendingBlobs, g.pendingBytes = keep, 0
	for _, p := range keep {
		g.pendingBytes += len(p.blob)
	}
	for _, p := range retry {
		g.receive(p.blob, upd)
	}
}

func (g *Group) pend(blob []byte, sender Fingerprint, upd *Update) {
	for len(g.pendingBlobs) > 0 && (len(g.pendingBlobs) >= MaxPendingBlobs || g.pendingBytes+len(blob) > MaxPendingBytes) {
		g.pendingBytes -= len(g.pendingBlobs[0].blob)
		g.pendingBlobs = g.pendingBlobs[1:]
		upd.refuse(fmt.Errorf("%w: a message waited too long for its sender's key", ErrNoKey))
	}
	g.pendingBlobs = append(g.pendingBlobs, pendingBlob{blob: slices.Clone(blob), sender: sender})
	g.pendingBytes += len(blob)
}

// Receive opens fetched blobs. Messages whose sender's key has not come yet wait (bounded)
// and come out of a later call, when the key does.
func (g *Group) Receive(blobs [][]byte) Update {
	var upd Update
	g.mu.Lock()
	defer g.mu.Unlock()
	// Open in chain order, so that a message is Late only when a later one of its sender was
	// shown in an earlier call, not because this batch came shuffled.
	type item struct {
		blob []byte
		h    header
		es   *epochState
	}
	items := make([]item, 0, len(blobs))
	// Announcements first (the messages of this batch need them), each chain from its
	// earliest index: a late member reads one chain's older and newer announcements together.
	var keys []pendingKey
	for _, b := range blobs {
		if len(b) > 0 && b[0] == announceVersion {
			if from, k := g.openAnnounced(b, &upd); k != nil {
				keys = append(keys, pendingKey{from: from, key: k})
			}
		}
	}
	slices.SortStableFunc(keys, func(a, b pendingKey) int {
		if c := bytes.Compare(a.from[:], b.from[:]); c != 0 {
			return c
		}
		return cmpU32(a.key.Index, b.key.Index)
	})
	for _, k := range keys {
		g.handleSenderKey(k.from, k.key, &upd)
	}
	for _, b := range blobs {
		if len(b) > 0 && b[0] == announceVersion {
			continue
		}
		h, es := g.peekHeader(b)
		items = append(items, item{blob: b, h: h, es: es})
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := bytes.Compare(a.h.sender[:], b.h.sender[:]); c != 0 {
			return c
		}
		if c := cmpU32(a.h.gen, b.h.gen); c != 0 {
			return c
		}
		return cmpU32(a.h.index, b.h.index)
	})
	for _, it := range items {
		g.receiveWith(it.blob, it.h, it.es, &upd)
	}
	sortMessages(upd.Messages)
	return upd
}

// openAnnounced opens a member's chain announcement with one of the kept epochs and checks
// it: its sender a member of that epoch, the key of that epoch and group, both signatures
// with the sender's keys as the admin's commit lists them. It returns nil for a refused or
// skipped one.
func (g *Group) openAnnounced(blob []byte, upd *Update) (Fingerprint, *SenderKey) {
	if g.gone {
		upd.refuse(fmt.Errorf("%w", ErrRemoved))
		return Fingerprint{}, nil
	}
	for i := len(g.epochs) - 1; i >= 0; i-- {
		es := g.epochs[i]
		sender, keys, payload, sigs, ok := openAnnouncement(blob, announceKey(es.secret, g.id))
		if !ok {
			continue
		}
		k, err := ParseSenderKey(payload)
		switch {
		case sender == g.cfg.Self:
			upd.Skipped++
		case !es.members[sender]:
			upd.refuse(fmt.Errorf("%w: an announcement under epoch %d", ErrNotMember, es.n))
		case err != nil:
			upd.refuse(err)
		case k.Group != g.id || k.Epoch != es.n:
			upd.refuse(fmt.Errorf("%w: an announcement of epoch %d under epoch %d", ErrMalformed, k.Epoch, es.n))
		case KeyHash(*keys) != g.keys[sender]:
			upd.refuse(fmt.Errorf("%w: an announcement's keys are not those the commit names", ErrTampered))
		case !verifySigs(keys, announceSigned(sender, keys, payload), sigs):
			upd.refuse(fmt.Errorf("%w: an announcement's signature does not verify", ErrTampered))
		default:
			return sender, k
		}
		return Fingerprint{}, nil
	}
	upd.refuse(fmt.Errorf("%w (an announcement)", ErrNotForGroup))
	return Fingerprint{}, nil
}

// peekHeader opens a blob's header with the newest kept epoch that opens it; es is nil when
// none does.
func (g *Group) peekHeader(blob []byte) (h header, es *epochState) {
	for i := len(g.epochs) - 1; i >= 0; i-- {
		if hh, ok := openHeader(blob, g.epochs[i].hk); ok {
			return hh, g.epochs[i]
		}
	}
	return h, nil
}

// receive opens one blob: header with one of the kept epochs, sender a member of that epoch
// (or a removed member, below its cutoff), then the body with the sender's chain.
func (g *Group) receive(blob []byte, upd *Update) {
	h, es := g.peekHeader(blob)
	g.receiveWith(blob, h, es, upd)
}

func (g *Group) receiveWith(blob []byte, h header, es *epochState, upd *Update) {
	if g.gone {
		upd.refuse(fmt.Errorf("%w", ErrRemoved))
		return
	}
	switch {
	case es == nil:
		upd.refuse(fmt.Errorf("%w (%d bytes)", ErrNotForGroup, len(blob)))
		return
	case h.sender == g.cfg.Self:
		upd.Skipped++
		return
	case !es.members[h.sender]:
		upd.refuse(fmt.Errorf("%w: a message under epoch %d", ErrNotMember, es.n))
		return
	}
	if f := g.formers[h.sender]; f != nil && g.cur.member(h.sender) < 0 {
		if !f.known {
			g.pend(blob, h.sender, upd) // the commit with its cutoff is on its way
			return
		}
		if end, ok := f.ends[h.gen]; !ok || h.index >= end {
			upd.refuse(fmt.Errorf("%w: a message after the cutoff", ErrRemovedSender))
			return
		}
	}
	g.open(blob, h, es, upd)
}

func (g *Group) chain(sender Fingerprint, gen uint32) *recvChain {
	for _, ch := range g.chains[sender] {
		if ch.gen == gen {
			return ch
		}
	}
	return nil
}

// open decrypts with the chain's key for the header's index. The chain moves, and skipped
// keys are stored, only once the body and its signature verified: a forged blob costs nothing.
func (g *Group) open(blob []byte, h header, es *epochState, upd *Update) {
	ch := g.chain(h.sender, h.gen)
	if ch == nil {
		g.pend(blob, h.sender, upd)
		return
	}
	var in inner
	var err error
	if h.index < ch.start {
		// Before the chain as this member holds it: an earlier announcement of the same chain
		// (under an older epoch this member learned late) may still come.
		g.pend(blob, h.sender, upd)
		return
	}
	late, gap := h.index < ch.index, uint32(0)
	if late {
		k := skipKey(h)
		mk, ok := g.skipped[k]
		if !ok { // read before, sent before this member was given the chain, or evicted
			upd.Skipped++
			return
		}
		if in, err = openBody(blob, g.id, h, mk, ch.sigPub); err != nil {
			upd.refuse(err)
			return
		}
		delete(g.skipped, k)
	} else {
		if h.index-ch.index > MaxSkip || h.index == math.MaxUint32 {
			upd.refuse(fmt.Errorf("%w: %d keys ahead", ErrTooFarAhead, h.index-ch.index))
			return
		}
		ck := ch.ck
		skips := make([][32]byte, 0, h.index-ch.index)
		for i := ch.index; i < h.index; i++ {
			var mk [32]byte
			mk, ck = chainStep(ck, g.id, h.sender, h.gen, i)
			skips = append(skips, mk)
		}
		mk, next := chainStep(ck, g.id, h.sender, h.gen, h.index)
		if in, err = openBody(blob, g.id, h, mk, ch.sigPub); err != nil {
			upd.refuse(err)
			return
		}
		for i, mk := range skips {
			g.addSkipped(skipKey{sender: h.sender, gen: h.gen, index: ch.index + uint32(i)}, mk)
		}
		ch.ck, ch.index, gap = next, h.index+1, uint32(len(skips))
	}
	nick := ""
	if i := g.cur.member(h.sender); i >= 0 {
		nick = g.cur.Members[i].Nick
	}
	upd.Messages = append(upd.Messages, Message{Group: g.id, Sender: h.sender, SenderNick: nick,
		Time: in.time, ID: in.id, Type: in.typ, Content: slices.Clone(in.content), Epoch: es.n,
		Generation: h.gen, Index: h.index, Late: late, Gap: gap})
}

func (g *Group) addSkipped(k skipKey, mk [32]byte) {
	g.skipped[k] = mk
	g.skipOrder = append(g.skipOrder, k)
	for len(g.skipped) > MaxSkipped && len(g.skipOrder) > 0 {
		delete(g.skipped, g.skipOrder[0])
		g.skipOrder = g.skipOrder[1:]
	}
	if len(g.skipOrder) > 2*MaxSkipped { // forget the order of keys already used
		g.skipOrder = slices.DeleteFunc(g.skipOrder, func(k skipKey) bool { _, ok := g.skipped[k]; return !ok })
	}
}

// Sync fetches the group's tags and opens what came.
func (g *Group) Sync(ctx context.Context, tr Transport, now time.Time) (Update, error) {
	tags := g.ReceiveTags(now)
	if len(tags) == 0 {
		return Update{}, nil
	}
	blobs, err := tr.Fetch(ctx, tags)
	if err != nil {
		return Update{}, fmt.Errorf("failed to fetch group messages: %w", err)
	}
	return g.Receive(blobs), nil
}

// ReceiveTags lists the tags to fetch, of every kept epoch (see EpochTags).
func (g *Group) ReceiveTags(now time.Time) [][32]byte {
	var out [][32]byte
	for _, e := range g.EpochTags(now) {
		out = append(out, e.Tags...)
	}
	return out
}

// EpochTags is one kept epoch's tags to fetch. A client keeps a cursor per epoch, so that the
// tags of an epoch it learns late are read from the start (cursor 0).
type EpochTags struct {
	Epoch uint32
	Tags  [][32]byte
}

// EpochTags lists the tags to fetch per kept epoch: its days from the day before it started to
// tagGraceDays after its successor started (today for the newest), plus one ahead for clock
// skew, and none older than Config.Back days. A removed member has none.
func (g *Group) EpochTags(now time.Time) []EpochTags {
	g.mu.Lock()
	defer g.mu.Unlock()
	today := seal.Epoch(now)
	oldest := uint64(0)
	if b := uint64(g.cfg.back()); today > b {
		oldest = today - b
	}
	var out []EpochTags
	for i, e := range g.epochs {
		from, to := seal.Epoch(e.start), today+1
		if from > 0 {
			from--
		}
		if i+1 < len(g.epochs) {
			to = min(to, seal.Epoch(g.epochs[i+1].start)+tagGraceDays)
		}
		et := EpochTags{Epoch: e.n}
		for d := max(from, oldest); d <= to; d++ {
			et.Tags = append(et.Tags, tagFor(e.secret, g.id, d))
		}
		if len(et.Tags) > 0 {
			out = append(out, et)
		}
	}
	return out
}
