package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/echorelay/echorelay/client/group"
	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// Groups (PROTOCOL.md 7.9, package client/group): this file is the glue. A group's control
// payloads (the admin's commits, members' proposals) travel as control messages of type
// group.ControlType over the ratchet sessions between the admin and each member, so members
// need not be friends of each other; its blobs (messages, chain announcements) are put on and
// read from the relays where this client reads its friends (the friends' MyRelay), which
// flood them to the others. Each group's state is kept in the Store after every change.

var (
	// ErrNoGroup: no group has that name.
	ErrNoGroup = errors.New("no group called")
	// ErrGroupAmbiguous: several groups have that name.
	ErrGroupAmbiguous = errors.New("several groups are called")
	// ErrNoMember: the group has no member of that name.
	ErrNoMember = errors.New("the group has no member called")
	// ErrMemberKeys: the admin's commit names a member who is your friend by other signature
	// keys than the friend's bundle: the admin's device could write chain announcements in
	// that member's name (PROTOCOL.md 7.9, what this does not protect).
	ErrMemberKeys = errors.New("the group's admin names a friend of yours by keys that are not theirs")
	// ErrGroupExists: this client already has a group of that name.
	ErrGroupExists = errors.New("you already have a group called")
)

// groupsState is the client's groups, restored from the Store on first use.
type groupsState struct {
	once sync.Once
	// mu orders the group operations of this client (the Set has its own lock); it is never
	// taken while Client.mu is held.
	mu  sync.Mutex
	set *group.Set
	err error
	// reannounce: groups whose last chain announcement could not be put.
	reannounce map[group.ID]bool
}

func (c *Client) groupSet() (*group.Set, error) {
	c.grp.once.Do(func() {
		cfg := group.Config{Self: c.id.Fingerprint(), Keys: c.id.Bundle().SigningKeys(),
			Sign: func(m []byte) []byte { return c.id.Sign(nil, m) }}
		set := group.NewSet(cfg)
		c.mu.Lock()
		sts, err := c.st.GroupStates()
		c.mu.Unlock()
		if err != nil {
			c.grp.err = fmt.Errorf("failed to read groups: %w", err)
			return
		}
		for _, st := range sts {
			if _, err := set.Restore(st); err != nil {
				// Kept as it is in the store; the other groups work.
				c.log.Warn("a group's state did not restore", "err", err)
			}
		}
		c.grp.set, c.grp.reannounce = set, map[group.ID]bool{}
	})
	return c.grp.set, c.grp.err
}

// checkGroupName accepts a group's name: 1 to group.MaxNameLen bytes of UTF-8, spaces
// inside allowed ("class 5b"), no hidden characters, slashes or NUL.
func checkGroupName(name string) error {
	if name == "" || len(name) > group.MaxNameLen || !utf8.ValidString(name) || strings.TrimSpace(name) != name ||
		strings.ContainsAny(name, "\t\r\n/\\\x00") || strings.ContainsFunc(name, Hidden) || name == "-" {
		return fmt.Errorf("%w %q", ErrBadName, name)
	}
	return nil
}

// GroupInfo describes one group.
type GroupInfo struct {
	Name    string
	ID      [16]byte
	Admin   string // the admin's friend name ("" when it is this client)
	IsAdmin bool
	Open    bool // any member may propose changes, not only the admin
	Members int
	Epoch   uint32
	Gone    bool // this client was removed or left
}

// GroupMember is one member of a group.
type GroupMember struct {
	FP     seal.Fingerprint
	Name   string // the friend's name, "" when not a friend
	Nick   string // what the admin calls it
	Admin  bool
	Me     bool
	Friend bool
}

// groupTransport is one operation's way to the network for the group code.
type groupTransport struct {
	c         *Client
	s         *session
	now       time.Time
	putFailed bool
}

func (c *Client) groupTransport(ctx context.Context) *groupTransport {
	return &groupTransport{c: c, s: c.session(ctx), now: c.now()}
}

func (t *groupTransport) close() { t.s.close() }

// SendPairwise sends a control payload over the session with the friend to (through the
// outbox: a relay that is down gets it later).
func (t *groupTransport) SendPairwise(ctx context.Context, to group.Fingerprint, payload []byte) error {
	t.c.mu.Lock()
	f, err := t.c.friendByFP(to)
	t.c.mu.Unlock()
	if err != nil {
		return err
	}
	if f == nil {
		return fmt.Errorf("%w: a group member who is not your friend (%x)", ErrNoFriend, to[:4])
	}
	_, err = t.c.SendControl(ctx, f.Name, group.ControlType, payload)
	return err
}

type groupRelay struct{ addr, fp string }

// relays are where this client reads its friends: group blobs go there and are read there.
func (c *Client) groupRelays() ([]groupRelay, error) {
	c.mu.Lock()
	fs, err := c.st.Friends()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []groupRelay
	for _, f := range fs {
		if !slices.ContainsFunc(out, func(r groupRelay) bool { return r.addr == f.MyRelay }) {
			out = append(out, groupRelay{f.MyRelay, f.MyRelayFP})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: groups need at least one friend's relay", ErrNoFriend)
	}
	return out, nil
}

// Put puts a group blob on every relay where this client reads; one that took it is enough.
func (t *groupTransport) Put(ctx context.Context, tag [32]byte, blob []byte) error {
	relays, err := t.c.groupRelays()
	if err != nil {
		return err
	}
	var errs []error
	ok := false
	for _, r := range relays {
		cn, err := t.s.conn(r.addr, r.fp)
		if err == nil {
			var env []byte
			if env, err = makeEnvelope(cn.Hello(), t.now, tag, DefaultTTL, blob); err == nil {
				err = put(ctx, cn, env)
			}
		}
		if err != nil {
			t.s.fail(r.addr, err)
			errs = append(errs, err)
			continue
		}
		ok = true
	}
	if !ok {
		t.putFailed = true
		return fmt.Errorf("failed to put a group blob: %w", errors.Join(errs...))
	}
	return nil
}

// Fetch reads the blobs under tags from every relay where this client reads, from the start.
// (The client's own sync reads per epoch from stored cursors; this is for Group.Sync.)
func (t *groupTransport) Fetch(ctx context.Context, tags [][32]byte) ([][]byte, error) {
	relays, err := t.c.groupRelays()
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, r := range relays {
		cn, err := t.s.conn(r.addr, r.fp)
		if err != nil {
			return out, err
		}
		blobs, _, err := fetchGroupBlobs(ctx, cn, tags, 0)
		if err != nil {
			return out, err
		}
		out = append(out, blobs...)
	}
	return out, nil
}

func fetchGroupBlobs(ctx context.Context, cn Conn, tags [][32]byte, cursor uint64) ([][]byte, uint64, error) {
	ts := make([]echo.Tag, len(tags))
	for i, t := range tags {
		ts[i] = echo.Tag(t)
	}
	var blobs [][]byte
	next, err := fetchAll(ctx, cn, ts, cursor, func(it echo.Item) error {
		if e, err := echo.ParseEnvelope(it.Envelope); err == nil {
			blobs = append(blobs, e.Payload)
		}
		return nil
	})
	return blobs, next, err
}

// findGroup finds a group by name (or by the hex start of its ID when names collide).
func (c *Client) findGroup(name string) (*group.Group, error) {
	set, err := c.groupSet()
	if err != nil {
		return nil, err
	}
	var found []*group.Group
	for _, g := range set.Groups() {
		id := g.ID()
		if g.Name() == name || (len(name) >= 8 && fmt.Sprintf("%x", id[:])[:len(name)] == name) {
			found = append(found, g)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w %q", ErrNoGroup, name)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w %q: name it by the start of its ID (group list)", ErrGroupAmbiguous, name)
}

// saveGroup keeps g's state in the store.
func (c *Client) saveGroup(g *group.Group) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.st.PutGroupState(g.ID(), g.MarshalState()); err != nil {
		return fmt.Errorf("failed to keep the group: %w", err)
	}
	return nil
}

// after ends one operation on g: its state kept, and a failed announcement remembered.
func (c *Client) after(g *group.Group, tr *groupTransport, err error) error {
	if g == nil {
		return err
	}
	if tr.putFailed {
		c.grp.reannounce[g.ID()] = true
	}
	return errors.Join(err, c.saveGroup(g))
}

func (c *Client) memberOf(f *Friend) group.Member {
	return group.Member{FP: f.Fingerprint(), Nick: f.Name, KeyHash: group.KeyHash(f.Bundle.SigningKeys())}
}

// NewGroup makes a group called name with this client as its admin and the friends members
// as its first members. open lets every member propose changes (the admin's client commits
// them); otherwise only the admin adds and removes.
func (c *Client) NewGroup(ctx context.Context, name string, open bool, members []string) (GroupInfo, error) {
	if err := checkGroupName(name); err != nil {
		return GroupInfo{}, err
	}
	set, err := c.groupSet()
	if err != nil {
		return GroupInfo{}, err
	}
	c.grp.mu.Lock()
	defer c.grp.mu.Unlock()
	if _, err := c.findGroup(name); err == nil {
		return GroupInfo{}, fmt.Errorf("%w %q", ErrGroupExists, name)
	}
	var ms []group.Member
	for _, n := range members {
		f, err := c.Friend(n)
		if err != nil {
			return GroupInfo{}, err
		}
		ms = append(ms, c.memberOf(f))
	}
	policy := group.PolicyAdmin
	if open {
		policy = group.PolicyOpen
	}
	tr := c.groupTransport(ctx)
	defer tr.close()
	g, err := set.Create(ctx, tr, name, policy, ms, tr.now)
	if err = c.after(g, tr, err); err != nil && g == nil {
		return GroupInfo{}, err
	}
	return c.groupInfo(g), err
}

// AddToGroup adds the friend to the group (the admin commits it; a member of an open group
// asks the admin). The new member reads from then on, not before.
func (c *Client) AddToGroup(ctx context.Context, groupName, friend string) error {
	f, err := c.Friend(friend)
	if err != nil {
		return err
	}
	return c.groupOp(ctx, groupName, func(g *group.Group, tr *groupTransport) error {
		return g.Add(ctx, tr, c.memberOf(f), tr.now)
	})
}

// RemoveFromGroup removes a member, named by friend name or by the nick the admin gave it.
// Every remaining member starts a new chain that the removed member never gets.
func (c *Client) RemoveFromGroup(ctx context.Context, groupName, member string) error {
	return c.groupOp(ctx, groupName, func(g *group.Group, tr *groupTransport) error {
		ms, err := c.groupMembers(g)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if (m.Name == member || (m.Name == "" && m.Nick == member)) && !m.Me {
				return g.Remove(ctx, tr, m.FP, tr.now)
			}
		}
		return fmt.Errorf("%w %q", ErrNoMember, member)
	})
}

// LeaveGroup asks the admin to remove this client and forgets the group's keys at once.
func (c *Client) LeaveGroup(ctx context.Context, groupName string) error {
	return c.groupOp(ctx, groupName, func(g *group.Group, tr *groupTransport) error { return g.Leave(ctx, tr) })
}

// SendGroupText sends a text to the group: encrypted once, put once, whatever its size.
func (c *Client) SendGroupText(ctx context.Context, groupName, text string) error {
	if text == "" {
		return ErrEmpty
	}
	return c.groupOp(ctx, groupName, func(g *group.Group, tr *groupTransport) error {
		if max := group.MaxContent(c.groupMaxBlob(tr)); len(text) > max {
			return fmt.Errorf("%w: the text is %d bytes; one group message holds at most %d", ErrTooLarge, len(text), max)
		}
		if _, err := g.SendText(ctx, tr, text, tr.now); err != nil {
			return err
		}
		return c.keepSent(g, "text", []byte(text), tr.now)
	})
}

// SendGroupFile sends a file to the group, in chunks that fit the relays; it returns how many.
func (c *Client) SendGroupFile(ctx context.Context, groupName, fileName string, data []byte) (int, error) {
	if !seal.SafeName(fileName) {
		return 0, fmt.Errorf("%w: file name %q cannot be sent", ErrBadName, fileName)
	}
	if len(data) > MaxFile {
		return 0, fmt.Errorf("%w: %d bytes; a file is at most %d", ErrTooLarge, len(data), MaxFile)
	}
	n := 0
	err := c.groupOp(ctx, groupName, func(g *group.Group, tr *groupTransport) error {
		ids, err := g.SendFile(ctx, tr, fileName, data, c.groupMaxBlob(tr), tr.now)
		if n = len(ids); err != nil {
			return err
		}
		return c.keepSent(g, "file", []byte(fileName), tr.now)
	})
	return n, err
}

// groupMaxBlob is the smallest max_blob of the relays where group blobs go.
func (c *Client) groupMaxBlob(tr *groupTransport) int {
	m := int(defaultHello().MaxBlob)
	if relays, err := c.groupRelays(); err == nil {
		for _, r := range relays {
			if cn, err := tr.s.conn(r.addr, r.fp); err == nil && cn.Hello().MaxBlob > 0 {
				m = min(m, int(cn.Hello().MaxBlob))
			}
		}
	}
	return m
}

func (c *Client) groupOp(ctx context.Context, groupName string, op func(*group.Group, *groupTransport) error) error {
	if _, err := c.groupSet(); err != nil {
		return err
	}
	c.grp.mu.Lock()
	defer c.grp.mu.Unlock()
	g, err := c.findGroup(groupName)
	if err != nil {
		return err
	}
	tr := c.groupTransport(ctx)
	defer tr.close()
	return c.after(g, tr, op(g, tr))
}

// Groups lists the groups by name.
func (c *Client) Groups() ([]GroupInfo, error) {
	set, err := c.groupSet()
	if err != nil {
		return nil, err
	}
	var out []GroupInfo
	for _, g := range set.Groups() {
		out = append(out, c.groupInfo(g))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (c *Client) groupInfo(g *group.Group) GroupInfo {
	admin := g.Admin()
	info := GroupInfo{Name: g.Name(), ID: g.ID(), IsAdmin: admin == c.id.Fingerprint(), Open: g.Policy() == group.PolicyOpen,
		Members: len(g.Members()), Epoch: g.Epoch(), Gone: g.Gone()}
	if !info.IsAdmin {
		c.mu.Lock()
		if f, _ := c.friendByFP(admin); f != nil {
			info.Admin = f.Name
		}
		c.mu.Unlock()
	}
	return info
}

// GroupMembers lists a group's members as the newest commit names them.
func (c *Client) GroupMembers(groupName string) ([]GroupMember, error) {
	g, err := c.findGroup(groupName)
	if err != nil {
		return nil, err
	}
	return c.groupMembers(g)
}

func (c *Client) groupMembers(g *group.Group) ([]GroupMember, error) {
	c.mu.Lock()
	fs, err := c.st.Friends()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	names := map[seal.Fingerprint]string{}
	for _, f := range fs {
		names[f.Fingerprint()] = f.Name
	}
	admin, me := g.Admin(), c.id.Fingerprint()
	var out []GroupMember
	for _, m := range g.Members() {
		n, friend := names[m.FP]
		out = append(out, GroupMember{FP: m.FP, Name: n, Nick: m.Nick, Admin: m.FP == admin, Me: m.FP == me, Friend: friend})
	}
	return out, nil
}

// displayName is how a member shows: the friend's name, the admin's nick for it, or its
// fingerprint's start.
func displayName(names map[seal.Fingerprint]string, fp seal.Fingerprint, nick string) string {
	if n, ok := names[fp]; ok {
		return n
	}
	if nick != "" {
		return nick
	}
	return fmt.Sprintf("%x", fp[:4])
}

// receiveGroups hands the group control payloads among evs to the groups, reads every
// group's blobs from the relays, and returns evs with group events in place of those
// payloads.
func (c *Client) receiveGroups(ctx context.Context, evs []Event) ([]Event, map[string]error, error) {
	set, err := c.groupSet()
	if err != nil {
		return evs, nil, err
	}
	c.grp.mu.Lock()
	defer c.grp.mu.Unlock()
	tr := c.groupTransport(ctx)
	defer tr.close()
	out := evs[:0:0]
	emit := func(e Event) { out = append(out, e) }
	touched := map[group.ID]*group.Group{}
	var errs []error
	for _, e := range evs {
		ce, ok := e.(ControlEvent)
		if !ok || ce.Type != group.ControlType {
			emit(e)
			continue
		}
		id, upd, err := c.handleGroupControl(ctx, set, tr, ce)
		if g := set.Group(id); g != nil {
			touched[id] = g
			c.groupEvents(g, upd, tr.now, emit)
		}
		if err != nil {
			emit(GroupRefusedEvent{Group: "?", At: tr.now, Err: err})
		}
	}
	for _, g := range touched {
		errs = append(errs, c.after(g, tr, nil))
	}
	c.joinInvited(ctx, tr, evs, emit)
	failed, err := c.syncGroups(ctx, set, tr, emit)
	errs = append(errs, err)
	sort.SliceStable(out, func(i, j int) bool { return out[i].When().Before(out[j].When()) })
	return out, failed, errors.Join(errs...)
}

func (c *Client) handleGroupControl(ctx context.Context, set *group.Set, tr *groupTransport, ce ControlEvent) (group.ID, group.Update, error) {
	kind, id, err := group.PeekControl(ce.Payload)
	if err != nil {
		return id, group.Update{}, err
	}
	if kind == group.KindProposal {
		// The admin's client welcomes a newcomer over their session: it commits an addition
		// only of a friend of its own.
		if p, err := group.ParseProposal(ce.Payload); err == nil && p.Op == group.OpAdd {
			c.mu.Lock()
			f, err := c.friendByFP(p.FP)
			c.mu.Unlock()
			if err != nil {
				return id, group.Update{}, err
			}
			if f == nil {
				return id, group.Update{Refused: []error{fmt.Errorf("%w: %s proposed to add someone who is not your friend (%x)", ErrNoFriend, ce.From, p.FP[:4])}}, nil
			}
		}
	}
	upd, err := set.HandleControl(ctx, tr, ce.Friend, ce.Payload, tr.now)
	return id, upd, err
}

// syncGroups reads the blobs of every group this client is in, per relay and epoch from the
// stored cursors (an epoch learned late is read from the start), and keeps each group's state
// before its cursor moves.
func (c *Client) syncGroups(ctx context.Context, set *group.Set, tr *groupTransport, emit func(Event)) (map[string]error, error) {
	failed := map[string]error{}
	relays, err := c.groupRelays()
	if err != nil {
		return failed, nil // no friends: no groups to read
	}
	for _, g := range set.Groups() {
		if g.Gone() {
			continue
		}
		id := g.ID()
		if c.grp.reannounce[id] {
			if err := g.Reannounce(ctx, tr, tr.now); err == nil {
				delete(c.grp.reannounce, id)
			}
		}
		for _, et := range g.EpochTags(tr.now) {
			scope := groupScope(id, et.Epoch)
			for _, r := range relays {
				cn, err := tr.s.conn(r.addr, r.fp)
				if err != nil {
					failed[r.addr] = err
					continue
				}
				c.mu.Lock()
				cur, err := c.st.Cursor(r.addr, scope)
				c.mu.Unlock()
				if err != nil {
					return failed, err
				}
				blobs, next, err := fetchGroupBlobs(ctx, cn, et.Tags, cur)
				if err != nil {
					failed[r.addr] = err
					continue
				}
				if len(blobs) > 0 {
					c.groupEvents(g, g.Receive(blobs), tr.now, emit)
					if err := c.saveGroup(g); err != nil {
						return failed, err
					}
				}
				if next != cur {
					c.mu.Lock()
					err = c.st.SetCursor(r.addr, scope, next)
					c.mu.Unlock()
					if err != nil {
						return failed, err
					}
				}
			}
		}
	}
	return failed, nil
}

// groupScope names the cursor of one epoch of a group at a relay.
func groupScope(id group.ID, epoch uint32) string { return fmt.Sprintf("group:%x:%d", id[:8], epoch) }

// groupEvents turns an Update into events: texts, reassembled files, changes and refusals.
func (c *Client) groupEvents(g *group.Group, upd group.Update, now time.Time, emit func(Event)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	names, keys := map[seal.Fingerprint]string{}, map[seal.Fingerprint][32]byte{}
	if fs, err := c.st.Friends(); err == nil {
		for _, f := range fs {
			names[f.Fingerprint()] = f.Name
			keys[f.Fingerprint()] = group.KeyHash(f.Bundle.SigningKeys())
		}
	}
	nicks := map[seal.Fingerprint]string{}
	for _, m := range g.Members() {
		nicks[m.FP] = m.Nick
	}
	name := g.Name()
	for _, m := range upd.Messages {
		from := displayName(names, m.Sender, m.SenderNick)
		switch m.Type {
		case seal.TypeText:
			if err := c.st.AddMessage(&Message{Friend: groupConversation(g.ID()), From: m.Sender, Time: m.Time, Kind: "text", Body: m.Content}); err != nil {
				emit(GroupRefusedEvent{Group: name, At: now, Err: fmt.Errorf("failed to keep a message in the history: %w", err)})
			}
			emit(GroupMessageEvent{Group: name, From: from, Sender: m.Sender, Time: m.Time, Text: string(m.Content), Late: m.Late, Gap: m.Gap})
		case seal.TypeFile:
			if err := c.groupChunk(g, from, m, emit); err != nil {
				emit(GroupRefusedEvent{Group: name, At: now, Err: err})
			}
		}
	}
	for _, ch := range upd.Changes {
		ev := GroupChangeEvent{Group: name, At: now, Epoch: ch.Epoch, Joined: ch.Joined, Gone: ch.Gone}
		for _, m := range ch.Added {
			ev.Added = append(ev.Added, displayName(names, m.FP, m.Nick))
		}
		for _, fp := range ch.Removed {
			ev.Removed = append(ev.Removed, displayName(names, fp, nicks[fp]))
		}
		emit(ev)
	}
	if len(upd.Changes) > 0 && !g.Gone() { // the friends among the members: their keys are known
		for _, m := range g.Members() {
			if k, ok := keys[m.FP]; ok && k != m.KeyHash {
				emit(GroupRefusedEvent{Group: name, At: now, Err: fmt.Errorf("%w (%s)", ErrMemberKeys, names[m.FP])})
			}
		}
	}
	for _, err := range upd.Refused {
		emit(GroupRefusedEvent{Group: name, At: now, Err: err})
	}
}

// groupChunk keeps a file chunk of a group message and emits the file once it is whole.
func (c *Client) groupChunk(g *group.Group, from string, m group.Message, emit func(Event)) error {
	groupName := g.Name()
	ch, err := seal.ParseFileChunk(m.Content)
	if err != nil {
		return fmt.Errorf("a file chunk from %s: %w", from, err)
	}
	have, err := c.st.AddChunk(m.Sender, ch, m.Time)
	if err != nil || have < int(ch.Count) {
		return err
	}
	parts, err := c.st.TakeChunks(m.Sender, ch)
	if err != nil {
		return err
	}
	var n uint64
	for _, p := range parts {
		n += uint64(len(p))
	}
	if n != ch.Size || len(parts) != int(ch.Count) {
		return fmt.Errorf("the file %s from %s came short: %d of %d bytes", ch.Name, from, n, ch.Size)
	}
	where := ""
	if c.files != nil {
		if where, err = c.files.Save(SafeFileName(ch.Name), parts); err != nil {
			return err
		}
	}
	if err := c.st.AddMessage(&Message{Friend: groupConversation(g.ID()), From: m.Sender, Time: m.Time, Kind: "file", Body: []byte(cmpStr(where, ch.Name))}); err != nil {
		return err
	}
	emit(GroupFileEvent{Group: groupName, From: from, Sender: m.Sender, Time: m.Time, Name: ch.Name, Size: n, Where: where})
	return nil
}

// Receive retries the outbox, completes my pending invites, and reads, opens and verifies
// what arrived for me since the last Receive, resuming per relay and friend at the stored
// cursors (receive.go); then it hands the groups their control payloads and reads every
// group's blobs (groups.go), so that group events come out of the same call. A relay that
// fails is reported in Failed and the others are still read; its cursor is not advanced past
// what was not read.
func (c *Client) Receive(ctx context.Context, o ReceiveOptions) (*ReceiveResult, error) {
	res, err := c.receivePairwise(ctx, o)
	if err != nil {
		return nil, err
	}
	evs, failed, err := c.receiveGroups(ctx, res.Events)
	if err != nil {
		return nil, err
	}
	res.Events = evs
	for a, e := range failed {
		if res.Failed[a] == nil {
			res.Failed[a] = e
		}
	}
	return res, nil
}

// groupPoll is how often Watch reads the groups' blobs besides when they arrive: it catches
// what a relay that could not be listened to got meanwhile (a variable for tests).
var groupPoll = 5 * time.Minute

// groupReadTimeout bounds one read of the groups by Watch.
const groupReadTimeout = 30 * time.Second

// watchGroups wraps Watch's emit: group control payloads go to the groups, from a goroutine of
// its own (emit may be called with the client's lock held, and handling a payload sends), and
// the groups' blobs are read when their tags' subscription rings (groupwatch.go) and every
// groupPoll. emit is still called by one goroutine at a time.
// stop ends the goroutine, after handing the groups what was still queued.
func (c *Client) watchGroups(ctx context.Context, emit func(Event)) (wrapped func(Event), stop func()) {
	var emitMu, qmu sync.Mutex
	var queue []Event
	wake := make(chan struct{}, 1)
	safe := func(e Event) {
		emitMu.Lock()
		defer emitMu.Unlock()
		emit(e)
	}
	wrapped = func(e Event) {
		if ce, ok := e.(ControlEvent); ok && ce.Type == group.ControlType {
			qmu.Lock()
			queue = append(queue, ce)
			qmu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
			return
		}
		safe(e)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	run := func(ctx context.Context) {
		qmu.Lock()
		evs := queue
		queue = nil
		qmu.Unlock()
		out, _, err := c.receiveGroups(ctx, evs)
		for _, e := range out {
			safe(e)
		}
		if err != nil {
			c.log.Warn("groups could not be read", "err", err)
		}
	}
	// A read is not cut short when Watch ends (a caller restarts Watch when a friend is added):
	// a commit half handled, or a chain announcement half put, would be reported as refused.
	// Each read has its own deadline instead, and Watch's end waits for the one under way.
	detached := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupReadTimeout)
		defer cancel()
		run(rctx)
	}
	go func() {
		defer close(done)
		t := time.NewTicker(groupPoll)
		defer t.Stop()
		var bell *groupBell
		defer func() { bell.stop() }()
		detached()
		for {
			bell = c.ringGroupBell(ctx, bell, wake)
			select {
			case <-ctx.Done():
				// What came before the end still reaches the groups (their sends wait in the
				// outbox when the relays cannot be reached any more).
				detached()
				return
			case <-wake:
			case <-t.C:
			}
			detached()
		}
	}()
	return wrapped, func() { cancel(); <-done }
}

// groupConversation is the ID under which a group's messages are kept in the history (as
// Message.Friend, with the sender in Message.From): a hash of the group's ID, never a
// friend's fingerprint.
func groupConversation(id group.ID) seal.Fingerprint {
	return sha256.Sum256(append([]byte("echorelay-group-history-v1"), id[:]...))
}

func (c *Client) keepSent(g *group.Group, kind string, body []byte, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.AddMessage(&Message{Friend: groupConversation(g.ID()), Out: true, Time: now, Kind: kind, Body: body})
}

// History returns the last messages with name, a friend's or a group's ("" for everybody),
// oldest first. A group message has Group and From set.
func (c *Client) History(name string, last int) ([]HistoryEntry, error) {
	convs, nicks := map[seal.Fingerprint]string{}, map[seal.Fingerprint]string{}
	if set, err := c.groupSet(); err == nil {
		for _, g := range set.Groups() {
			convs[groupConversation(g.ID())] = g.Name()
			for _, m := range g.Members() {
				nicks[m.FP] = m.Nick
			}
		}
	}
	var hs []HistoryEntry
	var err error
	if _, ferr := c.Friend(name); name != "" && ferr != nil {
		g, err := c.findGroup(name)
		if err != nil {
			return nil, ferr
		}
		conv := groupConversation(g.ID())
		c.mu.Lock()
		ms, err := c.st.Messages(&conv, last)
		c.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("failed to read history: %w", err)
		}
		for _, m := range ms {
			hs = append(hs, HistoryEntry{Message: *m})
		}
	} else if hs, err = c.friendHistory(name, last); err != nil {
		return nil, err
	}
	c.mu.Lock()
	fs, err := c.st.Friends()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	names := map[seal.Fingerprint]string{}
	for _, f := range fs {
		names[f.Fingerprint()] = f.Name
	}
	for i := range hs {
		if g, ok := convs[hs[i].Friend]; ok {
			hs[i].Group, hs[i].Name = g, g
			if !hs[i].Out {
				hs[i].From = displayName(names, hs[i].Message.From, nicks[hs[i].Message.From])
			}
		}
	}
	return hs, nil
}

// GroupInvite makes a friend invite (PROTOCOL.md 7.2) whose acceptor, once its answer makes it
// a friend called name, the admin's client adds to the group: a pupil joins a class with one
// code. Each code is single-use, as every invite is: a teacher makes one per pupil, and a
// code that leaks lets one person in at most, whom the teacher sees (its safety number, the
// group's change). Only the group's admin makes them.
func (c *Client) GroupInvite(ctx context.Context, groupName, relay, name, as string) (seal.Invite, error) {
	if name == "" {
		return seal.Invite{}, fmt.Errorf("%w: a group invite needs the name to call the new member", ErrBadName)
	}
	g, err := c.findGroup(groupName)
	if err != nil {
		return seal.Invite{}, err
	}
	if g.Admin() != c.id.Fingerprint() {
		return seal.Invite{}, fmt.Errorf("failed to make a group invite: %w", group.ErrNotAdmin)
	}
	inv, err := c.Invite(ctx, relay, name, as)
	if err != nil {
		return inv, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rs, err := c.st.Invites()
	if err != nil {
		return inv, err
	}
	for _, r := range rs {
		if r.Invite.Secret == inv.Secret {
			r.Group = g.ID()
			return inv, c.st.PutInvite(r)
		}
	}
	return inv, errors.New("failed to make a group invite: the invite was not kept")
}

// joinInvited adds the friends whose answers to group invites came in evs to their groups.
func (c *Client) joinInvited(ctx context.Context, tr *groupTransport, evs []Event, emit func(Event)) {
	for _, e := range evs {
		fa, ok := e.(FriendAddedEvent)
		if !ok {
			continue
		}
		c.mu.Lock()
		f, err := c.friend(fa.Name)
		var rs []*InviteRecord
		if err == nil {
			rs, err = c.st.Invites()
		}
		c.mu.Unlock()
		if err != nil {
			continue
		}
		for _, r := range rs {
			if r.State != InviteUsed || r.Acceptor != f.Fingerprint() || r.Group == ([16]byte{}) {
				continue
			}
			g := c.grp.set.Group(r.Group)
			if g == nil || g.Gone() {
				continue
			}
			err := g.Add(ctx, tr, c.memberOf(f), tr.now)
			if err = c.after(g, tr, err); err != nil {
				emit(GroupRefusedEvent{Group: g.Name(), At: tr.now, Err: fmt.Errorf("failed to add %s, who answered a group invite: %w", f.Name, err)})
			} else {
				emit(GroupChangeEvent{Group: g.Name(), At: tr.now, Epoch: g.Epoch(), Added: []string{f.Name}})
			}
		}
	}
}
