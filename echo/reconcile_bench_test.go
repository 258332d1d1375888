package echo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkReconcile measures one whole session between two in-memory sets of n common items
// and d items only on one side: the time, and the RECON bytes both ways (bytes/session) and
// per difference (bytes/diff).
//
//	go test -run '^$' -bench Reconcile ./echo/
func BenchmarkReconcile(b *testing.B) {
	for _, c := range []struct{ n, d int }{{10000, 10}, {10000, 1000}, {100000, 10}, {100000, 1000}} {
		b.Run(fmt.Sprintf("n=%d/diff=%d", c.n, c.d), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(c.n)))
			keys := randKeys(rng, c.n+c.d)
			base := newMemSet(keys[:c.n])
			var bytes, rounds int
			for b.Loop() {
				b.StopTimer()
				x := &memSet{keys: slices.Clone(base.keys), envs: base.envs, byID: base.byID}
				y := newMemSet(keys)
				b.StartTimer()
				bytes, rounds = session(b, x, y)
			}
			b.ReportMetric(float64(bytes), "bytes/session")
			b.ReportMetric(float64(bytes)/float64(c.d), "bytes/diff")
			b.ReportMetric(float64(rounds), "rounds")
		})
	}
}

// session runs a session without fetching anything: the sides only learn what they need.
func session(tb testing.TB, a, b *memSet) (bytes, rounds int) {
	ra, rb := NewReconciler(a, 1, 1000), NewReconciler(b, 1, 1000)
	m, err := ra.Initiate()
	if err != nil {
		tb.Fatal(err)
	}
	sides := []*Reconciler{rb, ra}
	for turn := 0; len(m.Ranges) > 0; turn++ {
		if turn > 500 {
			tb.Fatal("no end")
		}
		bytes += m.Size()
		rounds++
		m, err = sides[turn%2].Process(m, func(ID) {}, func() bool { return false })
		if err != nil {
			tb.Fatal(err)
		}
	}
	return bytes + m.Size(), rounds
}
