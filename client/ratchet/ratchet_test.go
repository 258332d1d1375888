package ratchet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// seeded is a deterministic randomness source for tests and vectors.
func seeded(seed uint64) io.Reader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return rand.NewChaCha8(s)
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// newPair starts a session: b made the ratchet key it sent in the (sealed) start message, a
// received it and can send at once.
func newPair(t testing.TB, r io.Reader) (a, b *Session) {
	t.Helper()
	secret := make([]byte, 32)
	io.ReadFull(r, secret)
	ad := []byte("test session ad")
	priv, pub, err := NewKey(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err = NewReceiver(r, ad, secret, priv, t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err = NewSender(r, ad, secret, pub, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func text(s string, at time.Time) Message { return Message{Time: at, Type: 1, Content: []byte(s)} }

func mustSeal(t testing.TB, s *Session, m Message) []byte {
	t.Helper()
	p, err := s.Seal(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustOpen(t testing.TB, s *Session, p []byte, now time.Time, want string) {
	t.Helper()
	o, err := s.Open(p, now)
	if err != nil {
		t.Fatalf("open %q: %v", want, err)
	}
	if string(o.Content) != want {
		t.Fatalf("opened %q, want %q", o.Content, want)
	}
}

func TestConversation(t *testing.T) {
	a, b := newPair(t, seeded(1))
	if b.CanSend() {
		t.Fatal("the starter can send before the peer's first message")
	}
	if _, err := b.Seal(text("x", t0)); !errors.Is(err, ErrCannotSend) {
		t.Fatalf("seal before a sending chain: %v", err)
	}
	now := t0
	for i := range 40 {
		now = now.Add(time.Minute)
		x, y := a, b
		if i%2 == 1 {
			x, y = b, a
		}
		for j := range 3 {
			msg := fmt.Sprintf("message %d.%d", i, j)
			mustOpen(t, y, mustSeal(t, x, text(msg, now)), now, msg)
		}
	}
	// 20 round trips: each epoch needs 4 key chunks one way and 4 ciphertext chunks back.
	if a.KEMEpoch() < 3 || b.KEMEpoch() < 3 {
		t.Fatalf("KEM epochs after 20 round trips: %d and %d, want at least 3", a.KEMEpoch(), b.KEMEpoch())
	}
	if a.Missing() != 0 || b.Missing() != 0 {
		t.Fatalf("missing after a lossless conversation: %d, %d", a.Missing(), b.Missing())
	}
}

// TestShortTextSize: a 100-character text of 4-byte characters, with the largest KEM chunk,
// is at most 1 KiB as an envelope (47 bytes of envelope header and a 32-byte stamp).
func TestShortTextSize(t *testing.T) {
	a, b := newPair(t, seeded(2))
	long := strings.Repeat("😀", 100)
	var sizes []int
	for i := range 12 {
		p := mustSeal(t, a, text(long, t0))
		sizes = append(sizes, len(p))
		mustOpen(t, b, p, t0, long)
		if i%3 == 2 {
			mustOpen(t, a, mustSeal(t, b, text(long, t0)), t0, long)
		}
		if env := 47 + 32 + len(p); env > 1024 {
			t.Fatalf("a 100-character text is a %d-byte envelope", env)
		}
	}
	for _, s := range sizes {
		if s != sizes[0] {
			t.Fatalf("short texts of different sizes (with and without a chunk): %v", sizes)
		}
	}
	if got := PayloadSize(400); 47+32+got > 1024 {
		t.Fatalf("PayloadSize(400) = %d", got)
	}
}

// TestLossyDelivery: 1000 messages between two sessions, each put in 1 to 3 copies of which
// some are lost (never all), delivered after random delays of up to one day, so reordered
// and duplicated: every message opens exactly once, and no copy opens twice.
func TestLossyDelivery(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a, b := newPair(t, seeded(3))
	type copyOf struct {
		at      time.Time
		to      *Session
		payload []byte
		id      int
	}
	var inflight []copyOf
	now := t0
	opened := map[int]int{}
	deliver := func(until time.Time) {
		sort.SliceStable(inflight, func(i, j int) bool { return inflight[i].at.Before(inflight[j].at) })
		for len(inflight) > 0 && !inflight[0].at.After(until) {
			c := inflight[0]
			inflight = inflight[1:]
			o, err := c.to.Open(c.payload, c.at)
			switch {
			case err == nil:
				if string(o.Content) != fmt.Sprint(c.id) {
					t.Fatalf("copy of %d opened as %q", c.id, o.Content)
				}
				opened[c.id]++
			case errors.Is(err, ErrDuplicate):
			default:
				t.Fatalf("message %d: %v", c.id, err)
			}
		}
	}
	sent := 0
	for i := 0; i < 1000; i++ {
		now = now.Add(time.Duration(rng.Int64N(int64(20 * time.Minute))))
		deliver(now)
		from, to := a, b
		if rng.IntN(2) == 1 {
			from, to = b, a
		}
		if !from.CanSend() {
			from, to = to, from
		}
		p := mustSeal(t, from, text(fmt.Sprint(i), now))
		sent++
		copies := 1 + rng.IntN(3)
		kept := 0
		for c := range copies {
			if rng.IntN(5) == 0 && !(c == copies-1 && kept == 0) {
				continue // lost at one relay
			}
			kept++
			delay := time.Duration(rng.Int64N(int64(time.Minute)))
			if rng.IntN(10) == 0 {
				delay = time.Duration(rng.Int64N(int64(24 * time.Hour)))
			}
			inflight = append(inflight, copyOf{at: now.Add(delay), to: to, payload: p, id: i})
		}
	}
	deliver(now.Add(48 * time.Hour))
	for i := range sent {
		if opened[i] != 1 {
			t.Fatalf("message %d opened %d times", i, opened[i])
		}
	}
	if a.Missing() != 0 || b.Missing() != 0 {
		t.Fatalf("skipped keys left after every message arrived: %d, %d", a.Missing(), b.Missing())
	}
	if a.KEMEpoch() < 5 {
		t.Fatalf("KEM epoch %d after 1000 messages", a.KEMEpoch())
	}
}

// TestForwardSecrecy: with the whole state of both sides stolen at T, the messages sent
// before T do not open (item 6a).
func TestForwardSecrecy(t *testing.T) {
	a, b := newPair(t, seeded(4))
	now := t0
	var recorded [][]byte
	for i := range 10 {
		now = now.Add(time.Minute)
		x, y := a, b
		if i%2 == 1 {
			x, y = b, a
		}
		p := mustSeal(t, x, text(fmt.Sprint(i), now))
		recorded = append(recorded, p)
		mustOpen(t, y, p, now, fmt.Sprint(i))
	}
	for _, s := range []*Session{a, b} {
		stolen, err := Unmarshal(s.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		stolen.SetRand(seeded(99))
		for i, p := range recorded {
			if _, err := stolen.Open(p, now); err == nil {
				t.Fatalf("the stolen state opens message %d sent before the theft", i)
			}
		}
	}
}

// TestBreakInRecovery: with one side's state stolen at T, the attacker (a copy of that state
// that sees every later message) opens the messages of the chains it stole, but none once
// both sides have sent and received once more (item 6b).
func TestBreakInRecovery(t *testing.T) {
	a, b := newPair(t, seeded(5))
	now := t0
	exchange := func(x, y *Session, msg string) []byte {
		now = now.Add(time.Minute)
		p := mustSeal(t, x, text(msg, now))
		mustOpen(t, y, p, now, msg)
		return p
	}
	for i := range 6 {
		exchange(a, b, fmt.Sprint("a", i))
		exchange(b, a, fmt.Sprint("b", i))
	}
	stolen := b.Clone()
	stolen.SetRand(seeded(98))
	// The stolen chains: a's next message still opens with the copy.
	p := exchange(a, b, "after theft, old chain")
	if _, err := stolen.Open(p, now); err != nil {
		t.Fatalf("the copy does not follow the chain it stole: %v", err)
	}
	// b sends (a new DH key of its own), a answers, b sends again.
	toA1 := exchange(b, a, "b after theft")
	toB := exchange(a, b, "a heals")
	toA2 := exchange(b, a, "b healed")
	if _, err := stolen.Open(toB, now); err == nil {
		t.Fatal("the stolen state opens a's message after both sides sent and received")
	}
	for _, p := range [][]byte{toA1, toA2} {
		if _, err := stolen.Clone().Open(p, now); err == nil {
			t.Fatal("the stolen state opens b's message to a")
		}
	}
}

func TestTamperedChangesNothing(t *testing.T) {
	a, b := newPair(t, seeded(6))
	p := mustSeal(t, a, text("hello", t0))
	before := b.Marshal()
	for _, i := range []int{0, 1, 30, 90, 110, len(p) - 1} {
		q := bytes.Clone(p)
		q[i] ^= 1
		if _, err := b.Open(q, t0); err == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
		if !bytes.Equal(before, b.Marshal()) {
			t.Fatalf("byte %d flipped: the state changed", i)
		}
	}
	if _, err := b.Open(p[:len(p)-1], t0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	mustOpen(t, b, p, t0, "hello")
	if _, err := b.Open(p, t0); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("the same message again: %v", err)
	}
	other, _ := newPair(t, seeded(7))
	if _, err := b.Open(mustSeal(t, other, text("x", t0)), t0); !errors.Is(err, ErrNotMine) {
		t.Fatalf("another session's message: %v", err)
	}
}

func TestSkipLimits(t *testing.T) {
	a, b := newPair(t, seeded(8))
	mustOpen(t, b, mustSeal(t, a, text("first", t0)), t0, "first")
	for range MaxSkipPerChain + 1 {
		mustSeal(t, a, text("lost", t0))
	}
	before := b.Marshal()
	if _, err := b.Open(mustSeal(t, a, text("far", t0)), t0); !errors.Is(err, ErrTooManySkipped) {
		t.Fatalf("a header %d ahead: %v", MaxSkipPerChain+1, err)
	}
	if !bytes.Equal(before, b.Marshal()) {
		t.Fatal("a refused header changed the state")
	}
	// Within the limit: the skipped keys count as missing, and expire after MaxAge.
	a2, b2 := newPair(t, seeded(9))
	var late []byte
	for i := range 5 {
		p := mustSeal(t, a2, text(fmt.Sprint(i), t0))
		if i == 1 {
			late = p
		}
	}
	mustOpen(t, b2, mustSeal(t, a2, text("6", t0)), t0, "6")
	if b2.Missing() != 5 {
		t.Fatalf("missing %d, want 5", b2.Missing())
	}
	mustOpen(t, b2, late, t0.Add(time.Hour), "1")
	if b2.Missing() != 4 {
		t.Fatalf("missing %d after a late one, want 4", b2.Missing())
	}
	b2.Prune(t0.Add(MaxAge + time.Hour))
	if b2.Missing() != 0 {
		t.Fatalf("missing %d after MaxAge", b2.Missing())
	}
	// MaxSkipped across chains: the oldest keys go.
	a3, b3 := newPair(t, seeded(10))
	now := t0
	for range 3 {
		for range MaxSkipPerChain {
			mustSeal(t, a3, text("lost", now))
		}
		mustOpen(t, b3, mustSeal(t, a3, text("got", now)), now, "got")
		mustOpen(t, a3, mustSeal(t, b3, text("back", now)), now, "back")
	}
	if b3.Missing() != MaxSkipped {
		t.Fatalf("missing %d, want the cap %d", b3.Missing(), MaxSkipped)
	}
}

// TestStaleState: a peer that restored an old state and sends from it is told apart from a
// duplicate.
func TestStaleState(t *testing.T) {
	a, b := newPair(t, seeded(11))
	now := t0
	for i := range 4 {
		mustOpen(t, b, mustSeal(t, a, text(fmt.Sprint(i), now)), now, fmt.Sprint(i))
		mustOpen(t, a, mustSeal(t, b, text(fmt.Sprint(i), now)), now, fmt.Sprint(i))
	}
	backup := a.Clone()
	for i := range 3 {
		mustOpen(t, b, mustSeal(t, a, text(fmt.Sprint(i), now)), now, fmt.Sprint(i))
		mustOpen(t, a, mustSeal(t, b, text(fmt.Sprint(i), now)), now, fmt.Sprint(i))
	}
	// a restores the backup and sends: its chain was retired by b long ago; the position was
	// already used (a duplicate to the ratchet), and the next beyond the chain's end is stale.
	if _, err := b.Open(mustSeal(t, backup, text("from the past", now)), now); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("reused position: %v", err)
	}
	if _, err := b.Open(mustSeal(t, backup, text("from the past 2", now)), now); !errors.Is(err, ErrStale) {
		t.Fatalf("beyond the retired chain's end: %v", err)
	}
}

func TestTags(t *testing.T) {
	a, b := newPair(t, seeded(12))
	now := t0
	has := func(tags [][32]byte, tag [32]byte) bool {
		for _, x := range tags {
			if x == tag {
				return true
			}
		}
		return false
	}
	for i := range 6 {
		now = now.Add(7 * time.Hour)
		x, y := a, b
		if i%2 == 1 {
			x, y = b, a
		}
		tag := x.SendTag(now)
		if !has(y.ReceiveTags(now, 31, 256), tag) {
			t.Fatalf("round %d: the receiver does not poll the sender's tag", i)
		}
		mustOpen(t, y, mustSeal(t, x, text("m", now)), now, "m")
	}
	// Tags change with the DH ratchet (they heal) and with the day.
	if a.SendTag(now) == a.SendTag(now.Add(24*time.Hour)) {
		t.Fatal("the tag does not change with the day")
	}
	old := a.SendTag(now)
	mustOpen(t, b, mustSeal(t, a, text("m", now)), now, "m")
	mustOpen(t, a, mustSeal(t, b, text("m", now)), now, "m")
	if a.SendTag(now) == old {
		t.Fatal("the tag does not change with the DH ratchet")
	}
	// A late message of a retired chain is still polled for.
	if !has(b.ReceiveTags(now, 31, 256), old) {
		t.Fatal("a retired chain's tag is no longer polled")
	}
	// A busy day: every remembered chain costs one tag, so all of them fit the budget that
	// the pair's tags leave in one FETCH (256 - 33).
	first := a.SendTag(now)
	for range MaxPastChains + 10 {
		now = now.Add(time.Second)
		mustOpen(t, b, mustSeal(t, a, text("m", now)), now, "m")
		mustOpen(t, a, mustSeal(t, b, text("m", now)), now, "m")
	}
	if has(b.ReceiveTags(now, 31, 223), first) {
		t.Fatal("a chain beyond MaxPastChains is still polled")
	}
	a.Prune(now) // nothing to prune; the newest 200 chains are all polled
	tags := b.ReceiveTags(now, 31, 223)
	if len(b.past) != MaxPastChains || !has(tags, tagOf(b.past[0].hk, day(now))) {
		t.Fatalf("%d tags for %d chains: the oldest remembered chain is not polled", len(tags), len(b.past))
	}
}

func TestStateRoundTrip(t *testing.T) {
	a, b := newPair(t, seeded(13))
	for i := range 9 {
		mustSeal(t, a, text("lost", t0))
		mustOpen(t, b, mustSeal(t, a, text(fmt.Sprint(i), t0)), t0, fmt.Sprint(i))
		mustOpen(t, a, mustSeal(t, b, text(fmt.Sprint(i), t0)), t0, fmt.Sprint(i))
	}
	for _, s := range []*Session{a, b} {
		m := s.Marshal()
		u, err := Unmarshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(u.Marshal(), m) {
			t.Fatal("Unmarshal then Marshal differs")
		}
		for _, n := range []int{0, 3, len(m) - 1} {
			if _, err := Unmarshal(m[:n]); !errors.Is(err, ErrBadState) {
				t.Fatalf("truncated to %d: %v", n, err)
			}
		}
		if _, err := Unmarshal(append(bytes.Clone(m), 0)); !errors.Is(err, ErrBadState) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
	// The restored state goes on where the other stopped.
	u, _ := Unmarshal(b.Marshal())
	u.SetRand(seeded(14))
	mustOpen(t, u, mustSeal(t, a, text("after restore", t0)), t0, "after restore")
}

func TestPad(t *testing.T) {
	for _, c := range [][2]int{{0, 768}, {768, 768}, {769, 1024}, {1025, 2048}, {65536, 65536}, {65537, 67584}} {
		if got := Pad(c[0]); got != c[1] {
			t.Errorf("Pad(%d) = %d, want %d", c[0], got, c[1])
		}
	}
	if MaxContent(PayloadSize(1000)) < 1000 || PayloadSize(MaxContent(5000)) > 5000 {
		t.Fatal("MaxContent and PayloadSize disagree")
	}
	// A relay with blobs larger than MaxBody: the content still seals.
	a, b := newPair(t, seeded(18))
	big := make([]byte, MaxContent(64<<20))
	p := mustSeal(t, a, Message{Time: t0, Type: 2, Content: big})
	if o, err := b.Open(p, t0); err != nil || len(o.Content) != len(big) {
		t.Fatalf("the largest content: %v", err)
	}
}

// TestInvalidKEMKey: an encapsulation key that fails FIPS 203's check is dropped and
// collected again; the conversation goes on and no secret is mixed.
func TestInvalidKEMKey(t *testing.T) {
	a, b := newPair(t, seeded(15))
	for i := range a.kem.ek {
		a.kem.ek[i] = 0xff // coefficients above the modulus
	}
	now := t0
	for i := range 10 {
		now = now.Add(time.Minute)
		mustOpen(t, b, mustSeal(t, a, text(fmt.Sprint(i), now)), now, fmt.Sprint(i))
		if b.kem.ready {
			t.Fatal("the peer encapsulated to an invalid key")
		}
		mustOpen(t, a, mustSeal(t, b, text(fmt.Sprint(i), now)), now, fmt.Sprint(i))
	}
	if a.KEMEpoch() != 1 || b.KEMEpoch() != 1 {
		t.Fatalf("epochs %d, %d after an invalid key", a.KEMEpoch(), b.KEMEpoch())
	}
}

// TestChunkOfWrongSize: a chunk whose data is not the size of its kind is malformed, and the
// message is refused without a change.
func TestChunkOfWrongSize(t *testing.T) {
	k := kemState{epoch: 1}
	if err := k.incoming(seeded(1), &chunk{epoch: 1, kind: kindEK, index: 0, count: chunkCount, data: make([]byte, 10)}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a short key chunk: %v", err)
	}
	if err := k.incoming(seeded(1), &chunk{epoch: 2, kind: kindEK, index: 0, count: chunkCount, data: make([]byte, 10)}); err != nil {
		t.Fatalf("a chunk of another epoch is not ignored: %v", err)
	}
}

// TestStartedOverFromTheStart: a side that lost its state and takes up the session's start
// again (a fresh Sender from the same secret and key) sends under a header key the peer
// knows, with another ratchet key: stale, not a duplicate.
func TestStartedOverFromTheStart(t *testing.T) {
	r := seeded(16)
	secret := make([]byte, 32)
	io.ReadFull(r, secret)
	ad := []byte("ad")
	priv, pub, _ := NewKey(r)
	b, _ := NewReceiver(r, ad, secret, priv, t0)
	a, _ := NewSender(r, ad, secret, pub, t0)
	for i := range 3 {
		mustOpen(t, b, mustSeal(t, a, text(fmt.Sprint(i), t0)), t0, fmt.Sprint(i))
		mustOpen(t, a, mustSeal(t, b, text(fmt.Sprint(i), t0)), t0, fmt.Sprint(i))
	}
	again, _ := NewSender(r, ad, secret, pub, t0)
	if _, err := b.Open(mustSeal(t, again, text("over", t0)), t0); !errors.Is(err, ErrStale) {
		t.Fatalf("a restarted sender: %v", err)
	}
	// The same within the current chain: b's current receiving chain, another key.
	a2, b2 := newPair(t, seeded(17))
	mustOpen(t, b2, mustSeal(t, a2, text("x", t0)), t0, "x")
	fresh := b2.Clone()
	fresh.dhr[0] ^= 1 // as if the chain's key were another
	if _, err := fresh.Open(mustSeal(t, a2, text("y", t0)), t0); !errors.Is(err, ErrStale) {
		t.Fatalf("another key on the current chain: %v", err)
	}
}
