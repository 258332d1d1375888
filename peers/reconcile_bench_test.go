package peers

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

// BenchmarkReconcileSQLite runs whole sessions (no network) between two real SQLite stores
// of n common blobs, one of which has 10 more: the cost of the periodic reconciliation of a
// full cache, dominated by streaming the (expiry, id) index.
//
//	go test -run '^$' -bench ReconcileSQLite -benchtime 5x ./peers/
func BenchmarkReconcileSQLite(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			sa, err := store.Open(filepath.Join(dir, "a.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer sa.Close()
			sb, err := store.Open(filepath.Join(dir, "b.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close()
			exp := time.Now().Add(24 * time.Hour).Unix()
			var wg sync.WaitGroup
			for i := 0; i < n+10; i++ {
				var seed [8]byte
				binary.BigEndian.PutUint64(seed[:], uint64(i))
				blob := store.Blob{ID: sha256.Sum256(seed[:]), Expiry: exp + int64(i%5000), Envelope: seed[:]}
				for _, s := range []*store.Store{sa, sb} {
					if s == sb && i >= n {
						continue
					}
					wg.Add(1)
					s.PutAsync(blob, func(bool, error) { wg.Done() })
				}
			}
			wg.Wait()
			floor := uint64(time.Now().Add(time.Minute).Unix())
			var bytes, needs int
			for b.Loop() {
				ra := echo.NewReconciler(relaystore.New(sa), 1, floor)
				rb := echo.NewReconciler(relaystore.New(sb), 1, floor)
				m, err := ra.Initiate()
				if err != nil {
					b.Fatal(err)
				}
				bytes, needs = 0, 0
				sides := []*echo.Reconciler{rb, ra}
				for turn := 0; len(m.Ranges) > 0 && turn < 100; turn++ {
					bytes += m.Size()
					if m, err = sides[turn%2].Process(m, func(echo.ID) { needs++ }, func() bool { return false }); err != nil {
						b.Fatal(err)
					}
				}
			}
			if needs != 10 {
				b.Fatalf("%d IDs needed, want 10", needs)
			}
			b.ReportMetric(float64(bytes), "bytes/session")
		})
	}
}
