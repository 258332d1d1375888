//go:build !js

package group

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/internal/testutil/relaytest"
	"github.com/echorelay/echorelay/peers"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// relayTransport carries a member's group blobs over its relay, and, standing in for the
// pairwise ratchet sessions client/ will provide, its control payloads too: under a tag of
// the recipient, prefixed with the sender's fingerprint. Fetch returns each blob once.
type relayTransport struct {
	c    *peers.Client
	self Fingerprint
	mu   sync.Mutex
	seen map[echo.ID]bool
	sent *sync.Map // recipient → *int: pairwise payloads put for it
}

func pairwiseTag(to Fingerprint) [32]byte {
	return sha256.Sum256(append([]byte("group test pairwise"), to[:]...))
}

func (t *relayTransport) put(ctx context.Context, tag [32]byte, payload []byte) error {
	e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Tag: tag, Payload: payload}
	env, err := e.Marshal()
	if err != nil {
		return err
	}
	_, _, err = t.c.Put(ctx, env)
	return err
}

func (t *relayTransport) SendPairwise(ctx context.Context, to Fingerprint, payload []byte) error {
	v, _ := t.sent.LoadOrStore(to, new(int))
	t.mu.Lock()
	*v.(*int)++
	t.mu.Unlock()
	return t.put(ctx, pairwiseTag(to), append(t.self[:], payload...))
}

func (t *relayTransport) Put(ctx context.Context, tag [32]byte, blob []byte) error {
	return t.put(ctx, tag, blob)
}

func (t *relayTransport) fetch(ctx context.Context, tags [][32]byte) ([][]byte, error) {
	et := make([]echo.Tag, len(tags))
	for i, tg := range tags {
		et[i] = echo.Tag(tg)
	}
	var out [][]byte
	after := uint64(0)
	for range 1000 {
		items, next, more, err := t.c.Fetch(ctx, et, after, 0)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			id := echo.BlobID(it.Envelope)
			t.mu.Lock()
			dup := t.seen[id]
			t.seen[id] = true
			t.mu.Unlock()
			if dup {
				continue
			}
			e, err := echo.ParseEnvelope(it.Envelope)
			if err != nil {
				return nil, err
			}
			out = append(out, e.Payload)
		}
		if !more {
			return out, nil
		}
		after = next
	}
	return nil, fmt.Errorf("fetch did not end")
}

func (t *relayTransport) Fetch(ctx context.Context, tags [][32]byte) ([][]byte, error) {
	return t.fetch(ctx, tags)
}

func (t *relayTransport) pairwise(ctx context.Context) ([]netPair, error) {
	blobs, err := t.fetch(ctx, [][32]byte{pairwiseTag(t.self)})
	var out []netPair
	for _, b := range blobs {
		out = append(out, netPair{from: Fingerprint(b[:32]), payload: b[32:]})
	}
	return out, err
}

// TestGroupOnThreeRelays is issue #17's "done when" over real relays: 30 members spread over
// three linked relays A–B–C, messages and a file from several senders, one member offline
// throughout, one removed and one added midway. Every member reads exactly what was meant
// for it, once; the removed member's keys open nothing sent after its senders applied the
// removal; the offline member reads everything in order when it comes back.
func TestGroupOnThreeRelays(t *testing.T) {
	if testing.Short() {
		t.Skip("31 clients on three relays")
	}
	relays := relaytest.StartChain(t, 3, peers.SchemeQUIC) // A - B - C

	const n = 31
	const admin, removed, offline, added = 0, 5, 7, 30
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(3*time.Minute))
	defer cancel()
	sent := &sync.Map{}
	fps := make([]Fingerprint, n)
	sets := make([]*Set, n)
	trs := make([]*relayTransport, n)
	for i := range n {
		fps[i] = testFP(i)
		sets[i] = NewSet(testCfg(fps[i]))
		cl, err := peers.DialClient(ctx, relays[i%3].Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		trs[i] = &relayTransport{c: cl, self: fps[i], seen: map[echo.ID]bool{}, sent: sent}
	}
	logs := make([][]Message, n)
	var batches [][]Message // the offline member's
	var msgs []sentMsg
	var gid ID
	grp := func(i int) *Group { return sets[i].Group(gid) }
	online := map[int]bool{}
	for i := range 30 {
		online[i] = i != offline
	}
	step := func() {
		for i := range n {
			if !online[i] {
				continue
			}
			ps, err := trs[i].pairwise(ctx)
			if err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
			var got []Message
			for _, p := range ps {
				u, err := sets[i].HandleControl(ctx, trs[i], p.from, p.payload, time.Now())
				if err != nil {
					t.Fatalf("member %d: %v", i, err)
				}
				got = append(got, u.Messages...)
			}
			ups, err := sets[i].Sync(ctx, trs[i], time.Now())
			if err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
			for _, u := range ups {
				for _, e := range u.Refused {
					t.Errorf("member %d: refused: %v", i, e)
				}
				got = append(got, u.Messages...)
			}
			logs[i] = append(logs[i], got...)
			if i == offline && len(got) > 0 {
				batches = append(batches, got)
			}
		}
	}
	lastSend := time.Now()
	send := func(i int, text string) {
		g := grp(i)
		now := time.Now()
		if !now.After(lastSend) {
			now = lastSend.Add(time.Millisecond)
		}
		lastSend = now
		id, err := g.SendText(ctx, trs[i], text, now)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		msgs = append(msgs, record(g, i, fps[i], id))
	}
	readAll := func(what string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, what, func() bool {
			step()
			for i := range n {
				if !online[i] {
					continue
				}
				read := map[seal.MessageID]bool{}
				for _, m := range logs[i] {
					read[m.ID] = true
				}
				for _, m := range msgs {
					if m.meantFor[fps[i]] && !read[m.id] {
						return false
					}
				}
			}
			return true
		})
	}

	var others []Member
	for i := 1; i < 30; i++ {
		others = append(others, Member{KeyHash: testKeyHash(fps[i]), FP: fps[i], Nick: fmt.Sprint("pupil ", i)})
	}
	g, err := sets[admin].Create(ctx, trs[admin], "class 5b", PolicyAdmin, others, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	gid = g.ID()
	testutil.Eventually(t, time.Minute, "every online member joined", func() bool {
		step()
		for i := range 30 {
			if online[i] && grp(i) == nil {
				return false
			}
		}
		return true
	})

	for _, i := range []int{admin, 1, 2, 3, removed, 1, 2} {
		send(i, fmt.Sprintf("before, %d from %d", len(msgs), i))
	}
	data := make([]byte, 9000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	ids, err := grp(2).SendFile(ctx, trs[2], "worksheet.pdf", data, 4096, lastSend.Add(time.Millisecond))
	if err != nil || len(ids) < 3 {
		t.Fatalf("SendFile: %d chunks, %v", len(ids), err)
	}
	lastSend = lastSend.Add(time.Millisecond)
	for _, id := range ids {
		msgs = append(msgs, record(grp(2), 2, fps[2], id))
	}
	readAll("the first messages and the file read")

	if err := g.Add(ctx, trs[admin], Member{KeyHash: testKeyHash(fps[added]), FP: fps[added], Nick: "new pupil"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	online[added] = true
	testutil.Eventually(t, time.Minute, "every member applied the addition", func() bool {
		step()
		for i := range n {
			if online[i] && (grp(i) == nil || len(grp(i).Members()) != 31) {
				return false
			}
		}
		return true
	})
	for _, i := range []int{admin, added, 1, 3} {
		send(i, fmt.Sprintf("after the addition, %d from %d", len(msgs), i))
	}
	readAll("the messages after the addition read")

	if err := g.Remove(ctx, trs[admin], fps[removed], time.Now()); err != nil {
		t.Fatal(err)
	}
	removeEpoch := g.Epoch()
	testutil.Eventually(t, time.Minute, "every member applied the removal", func() bool {
		step()
		for i := range n {
			if online[i] && len(grp(i).Members()) != 30 && i != removed {
				return false
			}
		}
		return grp(removed).Gone()
	})
	online[removed] = false
	blobsBefore := len(msgs)
	for _, i := range []int{admin, 1, 2, added, 3} {
		send(i, fmt.Sprintf("after the removal, %d from %d", len(msgs), i))
	}
	readAll("the messages after the removal read")

	// The offline member comes back once everything it is owed is on its relay.
	owed := func() int {
		v, ok := sent.Load(fps[offline])
		if !ok {
			return 0
		}
		return *v.(*int)
	}
	probe := &relayTransport{c: trs[offline].c, self: fps[offline], seen: map[echo.ID]bool{}}
	testutil.Eventually(t, time.Minute, "the offline member's payloads reached its relay", func() bool {
		ps, err := probe.pairwise(ctx)
		return err == nil && len(ps) == owed()
	})
	online[offline] = true
	readAll("the offline member caught up")

	byID := map[seal.MessageID]sentMsg{}
	for _, m := range msgs {
		byID[m.id] = m
	}
	for i := range n {
		count := map[seal.MessageID]int{}
		for _, m := range logs[i] {
			count[m.ID]++
			sm, ok := byID[m.ID]
			switch {
			case !ok:
				t.Fatalf("member %d read a message nobody sent", i)
			case count[m.ID] > 1:
				t.Errorf("member %d read message %x twice", i, m.ID[:4])
			case !sm.meantFor[fps[i]]:
				t.Errorf("member %d read message %x that was not meant for it", i, m.ID[:4])
			case m.Sender != fps[sm.sender]:
				t.Errorf("member %d: message %x shows the wrong sender", i, m.ID[:4])
			}
		}
	}
	if len(batches) != 1 || !slices.IsSortedFunc(batches[0], func(x, y Message) int { return x.Time.Compare(y.Time) }) {
		t.Errorf("the offline member caught up in %d batches, or out of order", len(batches))
	}
	var chunks []seal.FileChunk
	for _, m := range logs[offline] {
		if m.Type == seal.TypeFile {
			ch, err := seal.ParseFileChunk(m.Content)
			if err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, ch)
		}
	}
	slices.SortFunc(chunks, func(x, y seal.FileChunk) int { return int(x.Index) - int(y.Index) })
	var file []byte
	for _, ch := range chunks {
		file = append(file, ch.Data...)
	}
	if string(file) != string(data) {
		t.Errorf("the offline member's file: %d bytes in %d chunks, want %d", len(file), len(chunks), len(data))
	}
	// What the removed member can do with the blobs sent after the removal: nothing, whatever
	// key it held on to (it wiped them; a copy that kept them is the in-memory test's job).
	var after [][]byte
	tags := g.ReceiveTags(time.Now())
	all, err := (&relayTransport{c: trs[removed].c, self: fps[removed], seen: map[echo.ID]bool{}}).fetch(ctx, tags)
	if err != nil {
		t.Fatal(err)
	}
	after = append(after, all...)
	if u := grp(removed).Receive(after); len(u.Messages) != 0 {
		t.Errorf("the removed member opened %d messages", len(u.Messages))
	}
	for _, m := range msgs[blobsBefore:] {
		if m.epoch < removeEpoch {
			t.Errorf("message %x sent after the removal in epoch %d", m.id[:4], m.epoch)
		}
	}
	if len(after) < len(msgs)-blobsBefore {
		t.Errorf("fetched %d blobs of the group's current tags, want at least %d", len(after), len(msgs)-blobsBefore)
	}
}

// record is what sender i knew when it sent id: whom it was meant for.
func record(g *Group, i int, self Fingerprint, id seal.MessageID) sentMsg {
	m := sentMsg{id: id, sender: i, epoch: g.Epoch(), meantFor: map[Fingerprint]bool{}}
	for _, mem := range g.Members() {
		if mem.FP != self {
			m.meantFor[mem.FP] = true
		}
	}
	return m
}
