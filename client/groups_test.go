//go:build !js

package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/client/group"
	"github.com/echorelay/echorelay/internal/testutil"
)

// groupLog is what one peer read of its groups, across Receives.
type groupLog struct {
	texts   []string // "from: text"
	files   []client.GroupFileEvent
	changes []client.GroupChangeEvent
}

func (l *groupLog) take(t *testing.T, who string, evs []client.Event) {
	t.Helper()
	for _, e := range evs {
		switch e := e.(type) {
		case client.GroupMessageEvent:
			l.texts = append(l.texts, e.From+": "+e.Text)
		case client.GroupFileEvent:
			l.files = append(l.files, e)
		case client.GroupChangeEvent:
			l.changes = append(l.changes, e)
		case client.GroupRefusedEvent:
			t.Errorf("%s: refused: %v", who, e.Err)
		case client.ControlEvent:
			t.Errorf("%s: a control event left for the caller: %v", who, e)
		}
	}
}

// TestGroupThroughClients: a teacher's class of two pupils who are not friends of each other,
// on one real relay, through the client: the commits go over the teacher's ratchet sessions,
// the pupils read each other's messages and a file (their chains come as announcements),
// state survives in the store, a removed pupil reads nothing after its removal, and the
// names resolve as each client knows the sender.
func TestGroupThroughClients(t *testing.T) {
	r := startRelay(t)
	clk := newClock()
	teacher, sam, ana := newPeer(t, 0, clk), newPeer(t, 1, clk), newPeer(t, 2, clk)
	befriend(t, r, teacher, "teacher", sam, "sam", "")
	befriend(t, r, teacher, "teacher", ana, "ana", "")
	peers := map[string]*peer{"teacher": teacher, "sam": sam, "ana": ana}
	logs := map[string]*groupLog{"teacher": {}, "sam": {}, "ana": {}}
	round := func() {
		t.Helper()
		for _, n := range []string{"teacher", "sam", "ana"} {
			logs[n].take(t, n, receive(t, peers[n]))
		}
	}

	info, err := teacher.NewGroup(ctx(t), "class 5b", false, []string{"sam", "ana"})
	if err != nil || !info.IsAdmin || info.Members != 3 {
		t.Fatalf("NewGroup: %+v %v", info, err)
	}
	if _, err := teacher.NewGroup(ctx(t), "class 5b", false, nil); !errors.Is(err, client.ErrGroupExists) {
		t.Fatalf("a second group of the same name: %v", err)
	}
	round() // the pupils join and announce their chains
	for _, n := range []string{"sam", "ana"} {
		if gs, err := peers[n].Groups(); err != nil || len(gs) != 1 || gs[0].Name != "class 5b" || gs[0].Admin != "teacher" {
			t.Fatalf("%s's groups: %+v %v", n, gs, err)
		}
		if len(logs[n].changes) != 1 || !logs[n].changes[0].Joined {
			t.Fatalf("%s's changes: %+v", n, logs[n].changes)
		}
	}
	if err := sam.AddToGroup(ctx(t), "class 5b", "teacher"); !errors.Is(err, group.ErrNotAdmin) {
		t.Fatalf("a pupil adds in an admin-only group: %v", err)
	}

	if err := teacher.SendGroupText(ctx(t), "class 5b", "homework for monday"); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second) // messages of several senders come out in their senders' time order
	if err := sam.SendGroupText(ctx(t), "class 5b", "which page?"); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("page 42 "), 5000)
	if n, err := ana.SendGroupFile(ctx(t), "class 5b", "page42.txt", data); err != nil || n < 1 {
		t.Fatalf("SendGroupFile: %d chunks, %v", n, err)
	}
	round()
	round()
	// Ana is not sam's friend: she shows under the nick the teacher gave her.
	want := map[string][]string{
		"teacher": {"sam: which page?"},
		"sam":     {"teacher: homework for monday"},
		"ana":     {"teacher: homework for monday", "sam: which page?"},
	}
	for n, w := range want {
		if !slices.Equal(logs[n].texts, w) {
			t.Errorf("%s read %q, want %q", n, logs[n].texts, w)
		}
	}
	for _, n := range []string{"teacher", "sam"} {
		if fs := logs[n].files; len(fs) != 1 || fs[0].From != "ana" || fs[0].Size != uint64(len(data)) {
			t.Fatalf("%s's files: %+v", n, fs)
		} else if got, err := os.ReadFile(fs[0].Where); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s's saved file: %d bytes, %v", n, len(got), err)
		}
	}

	// A restart: the state comes back from the store.
	sam2, err := client.New(client.Options{Identity: sam.id, Store: sam.st, Dial: dial, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := sam2.GroupMembers("class 5b"); err != nil || len(ms) != 3 {
		t.Fatalf("members after a restart: %+v %v", ms, err)
	}

	if err := teacher.RemoveFromGroup(ctx(t), "class 5b", "sam"); err != nil {
		t.Fatal(err)
	}
	round()
	round()
	if gs, _ := sam.Groups(); len(gs) != 1 || !gs[0].Gone {
		t.Fatalf("sam after the removal: %+v", gs)
	}
	if err := sam.SendGroupText(ctx(t), "class 5b", "still here?"); !errors.Is(err, group.ErrRemoved) {
		t.Fatalf("a removed member sends: %v", err)
	}
	if err := teacher.SendGroupText(ctx(t), "class 5b", "sam has left us"); err != nil {
		t.Fatal(err)
	}
	round()
	round()
	if l := logs["ana"].texts; l[len(l)-1] != "teacher: sam has left us" {
		t.Fatalf("ana after the removal: %q", l)
	}
	if l := logs["sam"].texts; len(l) != 1 {
		t.Fatalf("the removed member read %q", l)
	}
	if ms, _ := ana.GroupMembers("class 5b"); len(ms) != 2 {
		t.Fatalf("ana's members after the removal: %+v", ms)
	}
}

// TestGroupWatch: a welcome that arrives while the pupil watches joins the group (Watch hands
// group control payloads to the groups instead of to its caller), and the joined state is
// kept: a later Receive reads the teacher's message.
func TestGroupWatch(t *testing.T) {
	r := startRelay(t)
	clk := newClock()
	teacher, sam := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, teacher, "teacher", sam, "sam", "")
	wctx, cancel := context.WithCancel(ctx(t))
	var mu sync.Mutex
	var got []client.Event
	done := make(chan error, 1)
	go func() {
		done <- sam.Watch(wctx, "", func(e client.Event) { mu.Lock(); got = append(got, e); mu.Unlock() })
	}()
	joined := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range got {
			if _, ok := e.(client.ControlEvent); ok {
				t.Errorf("watch handed a control event to its caller: %v", e)
			}
			if c, ok := e.(client.GroupChangeEvent); ok && c.Joined {
				return true
			}
		}
		return false
	}
	if _, err := teacher.NewGroup(ctx(t), "class 5b", false, []string{"sam"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "sam joined while watching", joined)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := teacher.SendGroupText(ctx(t), "class 5b", "hello class"); err != nil {
		t.Fatal(err)
	}
	var texts []string
	testutil.Eventually(t, 30*time.Second, "sam reads the teacher", func() bool {
		for _, e := range receive(t, sam) {
			if m, ok := e.(client.GroupMessageEvent); ok {
				texts = append(texts, m.Text)
			}
		}
		return len(texts) > 0
	})
	if !slices.Equal(texts, []string{"hello class"}) {
		t.Fatalf("sam read %q", texts)
	}
}

// TestGroupMemberKeysChecked: an admin's commit that names a member by keys other than that
// member's bundle (a lying admin device) is reported by a member who is that member's friend.
func TestGroupMemberKeysChecked(t *testing.T) {
	r := startRelay(t)
	clk := newClock()
	teacher, sam, ana := newPeer(t, 0, clk), newPeer(t, 1, clk), newPeer(t, 2, clk)
	befriend(t, r, teacher, "teacher", sam, "sam", "")
	befriend(t, r, sam, "sam", ana, "ana", "")
	hash := func(p *peer) [32]byte { return group.KeyHash(p.id.Bundle().SigningKeys()) }
	members := []group.Member{
		{FP: teacher.id.Fingerprint(), KeyHash: hash(teacher)},
		{FP: sam.id.Fingerprint(), KeyHash: hash(sam), Nick: "sam"},
		{FP: ana.id.Fingerprint(), KeyHash: hash(teacher), Nick: "ana"}, // not ana's keys
	}
	slices.SortFunc(members, func(a, b group.Member) int { return bytes.Compare(a.FP[:], b.FP[:]) })
	c := group.Commit{Group: group.ID{7}, Epoch: 1, Time: clk.Now(), Admin: teacher.id.Fingerprint(), Name: "forged",
		EpochSecret: [32]byte{9}, Members: members}
	payload, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := teacher.SendControl(ctx(t), "sam", group.ControlType, payload); err != nil {
		t.Fatal(err)
	}
	var warned, joined bool
	for _, e := range receive(t, sam) {
		switch e := e.(type) {
		case client.GroupRefusedEvent:
			warned = errors.Is(e.Err, client.ErrMemberKeys) && strings.Contains(e.Err.Error(), "(ana)")
		case client.GroupChangeEvent:
			joined = e.Joined
		}
	}
	if !joined || !warned {
		t.Fatalf("sam joined %v, warned about ana's keys %v", joined, warned)
	}
}

// TestGroupInvite: a group invite code makes its acceptor a friend of the teacher and a
// member of the group in the teacher's next Receive; only the admin makes such codes.
func TestGroupInvite(t *testing.T) {
	r := startRelay(t)
	clk := newClock()
	teacher, sam, lee := newPeer(t, 0, clk), newPeer(t, 1, clk), newPeer(t, 2, clk)
	befriend(t, r, teacher, "teacher", sam, "sam", "")
	if _, err := teacher.NewGroup(ctx(t), "class 5b", false, []string{"sam"}); err != nil {
		t.Fatal(err)
	}
	receive(t, sam)
	if _, err := sam.GroupInvite(ctx(t), "class 5b", r.addr(), "lee", "sam"); !errors.Is(err, group.ErrNotAdmin) {
		t.Fatalf("a pupil's group invite: %v", err)
	}
	inv, err := teacher.GroupInvite(ctx(t), "class 5b", r.addr(), "lee", "teacher")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lee.Accept(ctx(t), inv, client.AcceptOptions{Name: "teacher", Wait: testutil.Timeout(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	added := false
	for _, e := range receive(t, teacher) {
		if c, ok := e.(client.GroupChangeEvent); ok && slices.Equal(c.Added, []string{"lee"}) {
			added = true
		}
	}
	if !added {
		t.Fatal("the teacher's client did not add the acceptor of the group invite")
	}
	joined := false
	for _, e := range receive(t, lee) {
		if c, ok := e.(client.GroupChangeEvent); ok && c.Joined {
			joined = true
		}
	}
	if !joined {
		t.Fatal("lee did not join")
	}
	receive(t, sam)
	clk.Add(time.Second)
	if err := sam.SendGroupText(ctx(t), "class 5b", "welcome lee"); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range receive(t, lee) {
		if m, ok := e.(client.GroupMessageEvent); ok {
			texts = append(texts, m.From+": "+m.Text)
		}
	}
	if !slices.Equal(texts, []string{"sam: welcome lee"}) {
		t.Fatalf("lee read %q", texts)
	}
}

// TestGroupOpenProposals: in an open group a member's proposal to add a friend of the admin
// is committed by the admin's client (the newcomer joins); a proposal to add somebody the
// admin has no session with is refused there, since nobody could welcome them.
func TestGroupOpenProposals(t *testing.T) {
	r := startRelay(t)
	clk := newClock()
	teacher, sam, ana, lee := newPeer(t, 0, clk), newPeer(t, 1, clk), newPeer(t, 2, clk), newPeer(t, 3, clk)
	befriend(t, r, teacher, "teacher", sam, "sam", "")
	befriend(t, r, teacher, "teacher", ana, "ana", "")
	befriend(t, r, sam, "sam", ana, "ana", "")
	befriend(t, r, sam, "sam", lee, "lee", "")
	if _, err := teacher.NewGroup(ctx(t), "club", true, []string{"sam"}); err != nil {
		t.Fatal(err)
	}
	receive(t, sam)
	for _, n := range []string{"ana", "lee"} {
		if err := sam.AddToGroup(ctx(t), "club", n); err != nil {
			t.Fatal(err)
		}
	}
	refused := 0
	for _, e := range receive(t, teacher) {
		if rf, ok := e.(client.GroupRefusedEvent); ok {
			if !errors.Is(rf.Err, client.ErrNoFriend) {
				t.Fatalf("the teacher refused: %v", rf.Err)
			}
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d proposals refused, want the one for lee", refused)
	}
	ms, err := teacher.GroupMembers("club")
	if err != nil || len(ms) != 3 {
		t.Fatalf("the club after the proposals: %+v %v", ms, err)
	}
	joined := false
	for _, e := range receive(t, ana) {
		if c, ok := e.(client.GroupChangeEvent); ok && c.Joined {
			joined = true
		}
	}
	if !joined {
		t.Fatal("ana did not join")
	}
}
