//go:build !js

package client_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/client/group"
	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/internal/testutil/relaytest"
	"github.com/echorelay/echorelay/mceliece/hybrid"
	"github.com/echorelay/echorelay/peers"
)

// manyIdentities makes n identities of the smallest McEliece set, on every core.
func manyIdentities(t *testing.T, n int) []*seal.Identity {
	t.Helper()
	out := make([]*seal.Identity, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = seal.GenerateIdentity(hybrid.New("mceliece348864f"))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sentText is one group text of the scenario and whom its sender counted as members.
type sentText struct {
	text     string
	sender   int
	meantFor map[int]bool
}

// TestGroupOf30OnThreeRelays is issue #17's done-when test through the client: 30 members
// (10 under -short) on three linked real relays, each member reading at its own relay and a
// friend of the teacher only (the sessions are teacher<->member). Messages and a file from
// several senders; one member offline throughout, one added midway (it reads nothing sent
// before), one removed midway (nothing sent after: its client reads none, and the keys it
// held before the removal open none of the blobs on the relays). Every other member reads
// every message meant for it exactly once; the offline member reads all of its messages in
// order when it comes back.
func TestGroupOf30OnThreeRelays(t *testing.T) {
	n := 31 // 0..29 at the start, the last one joins midway
	if testing.Short() {
		n = 11
	}
	if testutil.Emulated() {
		n = 6 // the admin, two who talk, the removed, the offline and the added one
	}
	const admin, removed, offline = 0, 3, 4
	added := n - 1
	relays := relaytest.StartChain(t, 3, peers.SchemeQUIC) // A - B - C

	clk := newClock()
	ids := manyIdentities(t, n)
	ps := make([]*peer, n)
	names := make([]string, n)
	for i := range n {
		st := client.NewMemStore()
		c, err := client.New(client.Options{Identity: ids[i], Store: st, Dial: dial, Now: clk.Now, Files: client.DirSink(t.TempDir())})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ps[i], names[i] = &peer{Client: c, id: ids[i], st: st}, fmt.Sprintf("pupil%d", i)
	}
	names[admin] = "teacher"
	for i := 1; i < n; i++ { // each pupil reads at its own relay; the answer floods to the teacher's
		inv, err := ps[admin].Invite(ctx(t), relays[0].Addr(), names[i], "teacher")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ps[i].Accept(ctx(t), inv, client.AcceptOptions{Name: "teacher", Relay: relays[i%3].Addr(),
			Wait: testutil.Timeout(20 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 20*time.Second, names[i]+" a friend of the teacher", func() bool {
			for _, e := range receive(t, ps[admin]) {
				if f, ok := e.(client.FriendAddedEvent); ok && f.Name == names[i] {
					return true
				}
			}
			return false
		})
	}

	inGroup := map[int]bool{}
	for i := range n - 1 {
		inGroup[i] = true
	}
	online := func(i int) bool { return i != offline && (inGroup[i] || i == removed) }
	logs := make([]map[string]int, n) // text → times read
	order := make([][]string, n)      // texts in the order read
	files := make([][]client.GroupFileEvent, n)
	for i := range logs {
		logs[i] = map[string]int{}
	}
	readRound := func(who func(int) bool) {
		t.Helper()
		for i := range n {
			if !who(i) {
				continue
			}
			for _, e := range receive(t, ps[i]) {
				switch e := e.(type) {
				case client.GroupMessageEvent:
					logs[i][e.Text]++
					order[i] = append(order[i], e.Text)
				case client.GroupFileEvent:
					files[i] = append(files[i], e)
				case client.GroupRefusedEvent:
					t.Errorf("member %d: refused: %v", i, e.Err)
				}
			}
		}
	}
	members := func(i int) int {
		ms, err := ps[i].GroupMembers("class 5b")
		if err != nil {
			return -1
		}
		return len(ms)
	}
	var sent []sentText
	send := func(i int, text string) {
		t.Helper()
		clk.Add(time.Second) // strictly increasing send times
		ms, err := ps[i].GroupMembers("class 5b")
		if err != nil {
			t.Fatal(err)
		}
		s := sentText{text: text, sender: i, meantFor: map[int]bool{}}
		for _, m := range ms {
			for j := range n {
				if !m.Me && m.FP == ids[j].Fingerprint() {
					s.meantFor[j] = true
				}
			}
		}
		if err := ps[i].SendGroupText(ctx(t), "class 5b", text); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		sent = append(sent, s)
	}
	// settle reads until every online member read every message meant for it.
	settle := func(what string, extra func() bool) {
		t.Helper()
		testutil.Eventually(t, 2*time.Minute, what, func() bool {
			readRound(online)
			for _, s := range sent {
				for j := range s.meantFor {
					if online(j) && inGroup[j] && logs[j][s.text] == 0 {
						return false
					}
				}
			}
			return extra == nil || extra()
		})
	}

	var first []string
	for i := 1; i < n-1; i++ {
		first = append(first, names[i])
	}
	if _, err := ps[admin].NewGroup(ctx(t), "class 5b", false, first); err != nil {
		t.Fatal(err)
	}
	settle("every online member joined", func() bool {
		for i := range n - 1 {
			if online(i) && members(i) != n-1 {
				return false
			}
		}
		return true
	})
	senders := []int{admin, 1, 2, removed}
	for r := range 2 {
		for _, i := range senders {
			send(i, fmt.Sprintf("before the addition, round %d, from %d", r, i))
		}
	}
	data := []byte(strings.Repeat("the homework for monday is on page 42. ", 300))
	if _, err := ps[2].SendGroupFile(ctx(t), "class 5b", "homework.txt", data); err != nil {
		t.Fatal(err)
	}
	settle("the first messages read", func() bool {
		for i := range n - 1 {
			if online(i) && i != 2 && len(files[i]) == 0 {
				return false
			}
		}
		return true
	})

	// Added midway: reads from then on, not before.
	if err := ps[admin].AddToGroup(ctx(t), "class 5b", names[added]); err != nil {
		t.Fatal(err)
	}
	inGroup[added] = true
	settle("the addition applied", func() bool {
		for i := range n {
			if online(i) && members(i) != n {
				return false
			}
		}
		return true
	})
	for r := range 2 {
		for _, i := range []int{admin, 1, removed, added} {
			send(i, fmt.Sprintf("after the addition, round %d, from %d", r, i))
		}
	}
	settle("the messages after the addition read", nil)

	// What the removed member's client holds just before its removal.
	states, err := ps[removed].st.GroupStates()
	if err != nil || len(states) != 1 {
		t.Fatalf("the removed member's states: %d, %v", len(states), err)
	}
	before := states[0]

	if err := ps[admin].RemoveFromGroup(ctx(t), "class 5b", names[removed]); err != nil {
		t.Fatal(err)
	}
	delete(inGroup, removed)
	settle("the removal applied", func() bool {
		gs, _ := ps[removed].Groups()
		if len(gs) != 1 || !gs[0].Gone {
			return false
		}
		for i := range n {
			if online(i) && i != removed && members(i) != n-1 {
				return false
			}
		}
		return true
	})
	afterRemoval := len(sent)
	for r := range 2 {
		for _, i := range []int{admin, 1, 2, added} {
			send(i, fmt.Sprintf("after the removal, round %d, from %d", r, i))
		}
	}
	settle("the messages after the removal read", nil)

	// The offline member comes back and reads everything meant for it, in order.
	testutil.Eventually(t, 2*time.Minute, "the offline member caught up", func() bool {
		readRound(func(i int) bool { return i == offline })
		for _, s := range sent {
			if s.meantFor[offline] && logs[offline][s.text] == 0 {
				return false
			}
		}
		return len(files[offline]) == 1
	})

	for i := range n {
		var want []string
		for k, s := range sent {
			meant := s.meantFor[i]
			if i == removed && k >= afterRemoval && logs[i][s.text] != 0 {
				t.Errorf("the removed member read %q, sent after its removal", s.text)
			}
			if i == added && !meant && logs[i][s.text] != 0 {
				t.Errorf("the added member read %q, sent before it joined", s.text)
			}
			if meant && logs[i][s.text] != 1 {
				t.Errorf("member %d read %q %d times, want once", i, s.text, logs[i][s.text])
			}
			if meant {
				want = append(want, s.text)
			}
		}
		if i == offline && !slices.Equal(order[i], want) {
			t.Errorf("the offline member read out of order:\n%q\nwant\n%q", order[i], want)
		}
		if wantFile := i != 2 && i != added; wantFile != (len(files[i]) == 1) {
			t.Errorf("member %d: %d files", i, len(files[i]))
		} else if wantFile && files[i][0].Size != uint64(len(data)) {
			t.Errorf("member %d: a file of %d bytes", i, files[i][0].Size)
		}
	}

	// The keys the removed member held before its removal open none of what was sent after:
	// every blob on the relays, tried with them.
	cfg := group.Config{Self: ids[removed].Fingerprint(), Keys: ids[removed].Bundle().SigningKeys(),
		Sign: func(m []byte) []byte { return ids[removed].Sign(nil, m) }}
	g, err := group.RestoreGroup(cfg, before)
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	for _, r := range relays {
		cn, err := dial(ctx(t), r.Addr(), "")
		if err != nil {
			t.Fatal(err)
		}
		var cursor uint64
		for page := 0; page < 1000; page++ {
			items, next, more, err := cn.Fetch(ctx(t), nil, cursor, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if e, err := echo.ParseEnvelope(it.Envelope); err == nil {
					blobs = append(blobs, e.Payload)
				}
			}
			if cursor = next; !more {
				break
			}
		}
		cn.Close()
	}
	opened, u := map[string]bool{}, g.Receive(blobs)
	for _, m := range u.Messages {
		opened[string(m.Content)] = true
	}
	notFor := 0
	for _, err := range u.Refused {
		if errors.Is(err, group.ErrNotForGroup) {
			notFor++
		}
	}
	if notFor < len(sent)-afterRemoval { // each relay holds every blob: three copies at least
		t.Errorf("the old keys were tried on %d blobs that do not open, fewer than the %d texts after the removal", notFor, len(sent)-afterRemoval)
	}
	for k, s := range sent {
		if k >= afterRemoval && opened[s.text] {
			t.Errorf("the removed member's old keys open %q", s.text)
		}
	}
	t.Logf("%d members, %d texts and a file, %d blobs on the relays", n, len(sent), len(blobs)/3)
}
