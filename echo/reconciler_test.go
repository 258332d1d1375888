package echo

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// memSet is a sorted in-memory SetStore.
type memSet struct {
	keys []Key
	envs map[ID][]byte
	byID map[ID]Key
}

func (s *memSet) search(k Key) int {
	i, _ := slices.BinarySearchFunc(s.keys, k, Key.Compare)
	return i
}

func (s *memSet) Keys(from, to Key, limit int) ([]Key, error) {
	i, j := s.search(from), s.search(to)
	if j < i {
		j = i
	}
	if limit > 0 && j-i > limit {
		j = i + limit
	}
	return slices.Clone(s.keys[i:j]), nil
}

func (s *memSet) Count(from, to Key) (int, error) {
	return max(s.search(to)-s.search(from), 0), nil
}

func (s *memSet) Get(id ID) ([]byte, bool, error) { e, ok := s.envs[id]; return e, ok, nil }
func (s *memSet) Has(id ID) (bool, error)         { _, ok := s.envs[id]; return ok, nil }

func (s *memSet) add(k Key) {
	if _, ok := s.envs[k.ID]; ok {
		return
	}
	i := s.search(k)
	s.keys = slices.Insert(s.keys, i, k)
	s.envs[k.ID] = nil
	s.byID[k.ID] = k
}

func newMemSet(keys []Key) *memSet {
	s := &memSet{envs: map[ID][]byte{}, byID: map[ID]Key{}}
	for _, k := range keys {
		s.envs[k.ID] = nil
		s.byID[k.ID] = k
	}
	for _, k := range s.byID {
		s.keys = append(s.keys, k)
	}
	slices.SortFunc(s.keys, Key.Compare)
	return s
}

func randKeys(rng *rand.Rand, n int) []Key {
	keys := make([]Key, n)
	for i := range keys {
		keys[i].Expiry = 1000 + rng.Uint64N(100000)
		for j := 0; j < IDSize; j += 8 {
			v := rng.Uint64()
			for b := 0; b < 8; b++ {
				keys[i].ID[j+b] = byte(v >> (8 * b))
			}
		}
	}
	return keys
}

type reconResult struct {
	rounds       int
	bytes        int // RECON bodies both ways
	maxMsg       int
	needA, needB map[ID]bool
}

// runRecon drives a whole session between two sets like the link glue does: messages go
// through Frame and ParseRecon, needed IDs are fetched from the other side (at most needCap
// pending at a time, fetched between rounds).
func runRecon(t *testing.T, a, b *memSet, needCap int) reconResult {
	t.Helper()
	res := reconResult{needA: map[ID]bool{}, needB: map[ID]bool{}}
	ra, rb := NewReconciler(a, 7, 1000), NewReconciler(b, 7, 1000)
	var pendA, pendB []ID
	fetch := func(dst, src *memSet, pend *[]ID, got map[ID]bool) {
		for _, id := range *pend {
			if got[id] {
				t.Fatalf("id %s needed twice", id.Short())
			}
			got[id] = true
			k, ok := src.byID[id]
			if !ok {
				t.Fatalf("needed id %s the other side does not hold", id.Short())
			}
			dst.add(k)
		}
		*pend = (*pend)[:0]
	}
	m, err := ra.Initiate()
	if err != nil {
		t.Fatal(err)
	}
	sides := []struct {
		r    *Reconciler
		pend *[]ID
	}{{rb, &pendB}, {ra, &pendA}}
	for turn := 0; ; turn++ {
		if turn > 200 {
			t.Fatal("reconciliation does not terminate")
		}
		body := m.Frame().Body
		res.bytes += len(body)
		res.maxMsg = max(res.maxMsg, len(body))
		if len(body) > MaxReconFrame {
			t.Fatalf("message of %d bytes exceeds MaxReconFrame", len(body))
		}
		if len(m.Ranges) == 0 {
			break
		}
		res.rounds++
		parsed, err := ParseRecon(body)
		if err != nil {
			t.Fatalf("round %d: %v", turn, err)
		}
		s := sides[turn%2]
		pend := s.pend
		m, err = s.r.Process(parsed, func(id ID) { *pend = append(*pend, id) }, func() bool { return len(*pend) >= needCap })
		if err != nil {
			t.Fatal(err)
		}
		// The wanter drains the list before the side answers the next message.
		fetch(b, a, &pendB, res.needB)
		fetch(a, b, &pendA, res.needA)
	}
	return res
}

func equalSets(t *testing.T, a, b *memSet) {
	t.Helper()
	if !slices.Equal(a.keys, b.keys) {
		t.Fatalf("sets differ after reconciliation: %d and %d keys", len(a.keys), len(b.keys))
	}
}

func TestReconcileIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := randKeys(rng, 20000)
	a, b := newMemSet(keys), newMemSet(keys)
	res := runRecon(t, a, b, 4096)
	if len(res.needA)+len(res.needB) != 0 || res.rounds != 1 {
		t.Fatalf("identical sets: %d rounds, needs %d/%d", res.rounds, len(res.needA), len(res.needB))
	}
	if res.bytes > 2000 {
		t.Fatalf("identical sets of 20000 exchanged %d bytes", res.bytes)
	}
}

func TestReconcileDisjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ka, kb := randKeys(rng, 3000), randKeys(rng, 2000)
	a, b := newMemSet(ka), newMemSet(kb)
	res := runRecon(t, a, b, 4096)
	if len(res.needA) != 2000 || len(res.needB) != 3000 {
		t.Fatalf("disjoint: A needed %d (want 2000), B needed %d (want 3000)", len(res.needA), len(res.needB))
	}
	equalSets(t, a, b)
}

func TestReconcileOneEmpty(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 64, 65, 300, 10000} {
		keys := randKeys(rng, n)
		for _, swap := range []bool{false, true} {
			a, b := newMemSet(keys), newMemSet(nil)
			if swap {
				a, b = b, a
			}
			runRecon(t, a, b, 1000)
			equalSets(t, a, b)
			if len(a.keys) != n {
				t.Fatalf("n=%d: %d keys after reconciliation", n, len(a.keys))
			}
		}
	}
}

// Traffic grows with the difference, not with the size of the sets.
func TestReconcileSmallDiffInHugeSets(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 50000
	if testing.Short() {
		n = 10000
	}
	keys := randKeys(rng, n+10+7)
	a := newMemSet(keys[:n+10])                                    // n common + 10 only at A
	b := newMemSet(append(slices.Clone(keys[:n]), keys[n+10:]...)) // n common + 7 only at B
	res := runRecon(t, a, b, 4096)
	if len(res.needB) != 10 || len(res.needA) != 7 {
		t.Fatalf("B needed %d (want 10), A needed %d (want 7)", len(res.needB), len(res.needA))
	}
	equalSets(t, a, b)
	// Listing n IDs would take 32·n bytes (1.6 MB for 50 000).
	if res.bytes > 64<<10 {
		t.Fatalf("%d items, 17 differences: %d bytes exchanged in %d rounds", n, res.bytes, res.rounds)
	}
	t.Logf("%d items, 17 differences: %d bytes in %d rounds", n, res.bytes, res.rounds)

	// Ten times the differences: at most about ten times the bytes (the upper levels of the
	// range tree are shared), and below listing every ID once.
	a2 := newMemSet(keys[:n])
	extra := randKeys(rng, 170)
	for _, k := range extra {
		a2.add(k)
	}
	res2 := runRecon(t, a2, newMemSet(keys[:n]), 4096)
	if len(res2.needB) != 170 || res2.bytes <= res.bytes || res2.bytes > 12*res.bytes || res2.bytes > 32*n {
		t.Fatalf("170 differences: needed %d, %d bytes (17 differences: %d)", len(res2.needB), res2.bytes, res.bytes)
	}
	t.Logf("%d items, 170 differences: %d bytes in %d rounds", n, res2.bytes, res2.rounds)
}

// A small cap on needed IDs defers ranges to later rounds but still converges, and no message
// outgrows the limit.
func TestReconcileBoundedNeedList(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	keys := randKeys(rng, 6000)
	a, b := newMemSet(keys[:4000]), newMemSet(keys[2000:])
	res := runRecon(t, a, b, 100)
	equalSets(t, a, b)
	if len(res.needA) != 2000 || len(res.needB) != 2000 {
		t.Fatalf("needed %d and %d, want 2000 each", len(res.needA), len(res.needB))
	}
}

func TestReconcileRejectsForeignSession(t *testing.T) {
	r := NewReconciler(newMemSet(nil), 1, 1000)
	_, err := r.Process(Recon{Session: 2, Floor: 1000}, func(ID) {}, func() bool { return false })
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("foreign session: %v", err)
	}
	_, err = r.Process(Recon{Session: 1, Floor: 999}, func(ID) {}, func() bool { return false })
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("other floor: %v", err)
	}
}

func TestFingerprintIsOrderFreeAndCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ks := randKeys(rng, 50)
	ids := make([]ID, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	fp := FingerprintOf(ids)
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	if FingerprintOf(rev) != fp {
		t.Fatal("fingerprint depends on order")
	}
	if FingerprintOf(ids[:49]) == fp {
		t.Fatal("fingerprint ignores an ID")
	}
	// Carries across limbs: 0xFF…FF + 1 = 0 with count 2, unlike the empty set or {0}.
	var ff, one ID
	for i := range ff {
		ff[i] = 0xFF
	}
	one[31] = 1
	if FingerprintOf([]ID{ff, one}) == FingerprintOf(nil) || FingerprintOf([]ID{ff, one}) == FingerprintOf([]ID{{}}) {
		t.Fatal("fingerprint does not count")
	}
	var acc fpAcc
	acc.add(ff)
	acc.add(one)
	if acc.sum != [4]uint64{} {
		t.Fatalf("256-bit sum wrong: %x", acc.sum)
	}
}

func TestKeyNext(t *testing.T) {
	k := Key{Expiry: 5}
	k.ID[31] = 0xFF
	n := k.Next()
	if n.ID[31] != 0 || n.ID[30] != 1 || n.Expiry != 5 || n.Compare(k) <= 0 {
		t.Fatalf("next of %x: %x", k.ID, n.ID)
	}
	top := Key{Expiry: 5, ID: MaxKey.ID}
	if n := top.Next(); n.Expiry != 6 || n.ID != (ID{}) {
		t.Fatalf("next of the top id: %+v", n)
	}
}

func TestReconCodec(t *testing.T) {
	var id1, id2 ID
	id1[0], id2[0] = 1, 2
	m := Recon{Session: 9, Floor: 100, Ranges: []Range{
		{Upper: Key{Expiry: 100, ID: id1}},
		{Upper: Key{Expiry: 200}, Mode: ModeFingerprint, Count: 3, FP: Fingerprint{1, 2, 3}},
		{Upper: Key{Expiry: 300}, Mode: ModeIDList, IDs: []ID{id1, id2}},
		{Upper: MaxKey, Mode: ModeHave, IDs: []ID{id2}},
	}}
	body := m.Frame().Body
	if len(body) != m.Size() {
		t.Fatalf("size %d, body %d", m.Size(), len(body))
	}
	// Layout: session, floor, n, then the first range's bound and mode.
	if !bytes.Equal(body[:14], []byte{0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 100, 0, 4}) || body[14+40] != 0 {
		t.Fatalf("header %x", body[:55])
	}
	got, err := ParseRecon(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Frame().Body, body) {
		t.Fatal("parse then marshal differs")
	}
	bad := map[string][]byte{
		"short":       body[:10],
		"truncated":   body[:len(body)-1],
		"trailing":    append(slices.Clone(body), 0),
		"mode":        func() []byte { b := slices.Clone(body); b[14+40] = 9; return b }(),
		"not rising":  Recon{Floor: 100, Ranges: []Range{{Upper: Key{Expiry: 200}}, {Upper: Key{Expiry: 200}}}}.Frame().Body,
		"below floor": Recon{Floor: 100, Ranges: []Range{{Upper: Key{Expiry: 100}}}}.Frame().Body,
		"too many ids": func() []byte {
			b := Recon{Floor: 1, Ranges: []Range{{Upper: MaxKey, Mode: ModeIDList}}}.Frame().Body
			b[len(b)-2], b[len(b)-1] = 0xFF, 0xFF
			return b
		}(),
		"too many ranges": func() []byte {
			b := Recon{Floor: 1}.Frame().Body
			b[12], b[13] = 0xFF, 0xFF
			return b
		}(),
		"oversized": make([]byte, MaxReconFrame+1),
	}
	for name, b := range bad {
		if _, err := ParseRecon(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}

	w := Want{Req: 5, IDs: []ID{id1, id2}}
	gw, err := ParseWant(w.Frame().Body)
	if err != nil || gw.Req != 5 || len(gw.IDs) != 2 || gw.IDs[1] != id2 {
		t.Fatalf("want: %+v %v", gw, err)
	}
	for name, b := range map[string][]byte{
		"empty":     Want{Req: 1}.Frame().Body,
		"too many":  Want{Req: 1, IDs: make([]ID, MaxWantIDs+1)}.Frame().Body,
		"truncated": w.Frame().Body[:40],
	} {
		if _, err := ParseWant(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("want %s: %v", name, err)
		}
	}
	we := WantEnd{Req: 5, Missing: 2}
	if g, err := ParseWantEnd(we.Frame().Body); err != nil || g != we {
		t.Fatalf("want end: %+v %v", g, err)
	}
	if _, err := ParseWantEnd([]byte{1}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short want end: %v", err)
	}
}
