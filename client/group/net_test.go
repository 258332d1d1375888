package group

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// testNet is an in-memory network with the delivery of a flooding one: nothing is lost, but
// every pairwise payload and every blob comes late (0 to maxDelay rounds), in any order, and
// often twice. It records who sent each pairwise payload, as a pairwise session would
// authenticate it. Its randomness is seeded, so a failure repeats.
type testNet struct {
	mu       sync.Mutex
	rng      *rand.Rand
	round    int
	maxDelay int
	dupRate  float64

	blobs    []netBlob
	seen     map[Fingerprint]map[int]*blobView // reader → blob index → its delivery
	pairwise map[Fingerprint][]netPair

	pairwiseMsgs, pairwiseBytes, puts, putBytes int
}

type netBlob struct {
	tag   [32]byte
	blob  []byte
	round int // when it was put
}

type blobView struct {
	at    int // round from which it is visible to this reader
	again int // round of a second copy, or -1
	done  int // copies delivered
}

type netPair struct {
	from    Fingerprint
	payload []byte
	at      int
}

func newTestNet(seed uint64, maxDelay int) *testNet {
	return &testNet{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), maxDelay: maxDelay, dupRate: 0.3,
		seen: map[Fingerprint]map[int]*blobView{}, pairwise: map[Fingerprint][]netPair{}}
}

func (n *testNet) delay() int { return n.rng.IntN(n.maxDelay + 1) }

// advance starts the next round.
func (n *testNet) advance() {
	n.mu.Lock()
	n.round++
	n.mu.Unlock()
}

// transport is member self's view of the network.
func (n *testNet) transport(self Fingerprint) Transport { return &netTransport{n: n, self: self} }

type netTransport struct {
	n    *testNet
	self Fingerprint
}

func (t *netTransport) SendPairwise(_ context.Context, to Fingerprint, payload []byte) error {
	n := t.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if to == t.self {
		return fmt.Errorf("pairwise payload to oneself")
	}
	n.pairwiseMsgs++
	n.pairwiseBytes += len(payload)
	p := slices.Clone(payload)
	n.pairwise[to] = append(n.pairwise[to], netPair{from: t.self, payload: p, at: n.round + n.delay()})
	if n.rng.Float64() < n.dupRate {
		n.pairwise[to] = append(n.pairwise[to], netPair{from: t.self, payload: p, at: n.round + 1 + n.delay()})
	}
	return nil
}

func (t *netTransport) Put(_ context.Context, tag [32]byte, blob []byte) error {
	n := t.n
	n.mu.Lock()
	defer n.mu.Unlock()
	n.puts++
	n.putBytes += len(blob)
	n.blobs = append(n.blobs, netBlob{tag: tag, blob: slices.Clone(blob), round: n.round})
	return nil
}

// Fetch returns the blobs under tags that became visible to this reader (0 to maxDelay rounds
// after they were put, as flooding reaches its relay), each once or twice, shuffled. Blobs under tags the reader does not ask for stay, as on a relay.
func (t *netTransport) Fetch(_ context.Context, tags [][32]byte) ([][]byte, error) {
	n := t.n
	n.mu.Lock()
	defer n.mu.Unlock()
	want := map[[32]byte]bool{}
	for _, tg := range tags {
		want[tg] = true
	}
	views := n.seen[t.self]
	if views == nil {
		views = map[int]*blobView{}
		n.seen[t.self] = views
	}
	var out [][]byte
	for i, b := range n.blobs {
		if !want[b.tag] {
			continue
		}
		v := views[i]
		if v == nil {
			v = &blobView{at: b.round + n.delay(), again: -1}
			if n.rng.Float64() < n.dupRate {
				v.again = v.at + 1 + n.delay()
			}
			views[i] = v
		}
		if v.done == 0 && n.round >= v.at || v.done == 1 && v.again >= 0 && n.round >= v.again {
			v.done++
			out = append(out, b.blob)
		}
	}
	n.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// takePairwise hands a member the pairwise payloads due, shuffled.
func (n *testNet) takePairwise(to Fingerprint) []netPair {
	n.mu.Lock()
	defer n.mu.Unlock()
	var due, later []netPair
	for _, p := range n.pairwise[to] {
		if p.at <= n.round {
			due = append(due, p)
		} else {
			later = append(later, p)
		}
	}
	n.pairwise[to] = later
	n.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	return due
}

// quiet reports whether nothing is in flight for the readers (every blob delivered to each
// reader that fetched its tag, no pairwise payload waiting).
func (n *testNet) quiet() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ps := range n.pairwise {
		if len(ps) > 0 {
			return false
		}
	}
	for _, views := range n.seen {
		for _, v := range views {
			if v.done == 0 || v.done == 1 && v.again >= 0 {
				return false
			}
		}
	}
	return true
}

func (n *testNet) allBlobs() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([][]byte, len(n.blobs))
	for i, b := range n.blobs {
		out[i] = b.blob
	}
	return out
}

// testFP makes a member's fingerprint from its number.
func testFP(i int) Fingerprint { return sha256.Sum256(fmt.Appendf(nil, "member %d", i)) }

// TestNetDelivers checks the test network itself: every payload and blob arrives, some twice,
// not all in order.
func TestNetDelivers(t *testing.T) {
	n := newTestNet(1, 3)
	a, b := testFP(1), testFP(2)
	ta, tb := n.transport(a), n.transport(b)
	ctx := context.Background()
	const count = 200
	for i := range count {
		if err := ta.SendPairwise(ctx, b, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := ta.Put(ctx, [32]byte{1}, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	pw, bl := map[byte]int{}, map[byte]int{}
	var order []byte
	for r := 0; r < 20; r++ {
		n.advance()
		for _, p := range n.takePairwise(b) {
			if p.from != a {
				t.Fatalf("pairwise payload from %x, want %x", p.from[:4], a[:4])
			}
			pw[p.payload[0]]++
			order = append(order, p.payload[0])
		}
		got, _ := tb.Fetch(ctx, [][32]byte{{1}})
		for _, x := range got {
			bl[x[0]]++
		}
	}
	if !n.quiet() {
		t.Fatal("network not quiet after 20 rounds with a delay of at most 3")
	}
	dups := 0
	for i := range count {
		if pw[byte(i)] < 1 || bl[byte(i)] < 1 {
			t.Fatalf("payload %d: %d pairwise, %d blob copies", i, pw[byte(i)], bl[byte(i)])
		}
		dups += pw[byte(i)] - 1 + bl[byte(i)] - 1
	}
	if dups == 0 || slices.IsSorted(order) {
		t.Fatalf("the network neither duplicates (%d) nor reorders", dups)
	}
}

// quietFor reports whether no pairwise payload waits for the online members, and every blob
// they asked for reached them (twice where it was doubled).
func (n *testNet) quietFor(fps []Fingerprint, online func(int) bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, fp := range fps {
		if !online(i) {
			continue
		}
		if len(n.pairwise[fp]) > 0 {
			return false
		}
		for _, v := range n.seen[fp] {
			if v.done == 0 || v.done == 1 && v.again >= 0 {
				return false
			}
		}
	}
	return true
}
