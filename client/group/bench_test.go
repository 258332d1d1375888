package group

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkWireBytes: the bytes one message puts on the wire for 2, 30 and 100 members. They
// are the same: one blob, encrypted once, whatever the member count (a Signal-style fan-out
// of pairwise encryptions would grow with it).
func BenchmarkWireBytes(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"text", 25}, {"chunk64k", 64 << 10}} {
		for _, n := range []int{2, 30, 100} {
			b.Run(fmt.Sprintf("%s/members=%d", size.name, n), func(b *testing.B) {
				g := benchGroup(b, n)
				content := make([]byte, size.n)
				tr := &captureTransport{}
				now := time.Now()
				b.ReportAllocs()
				for b.Loop() {
					tr.blobs = tr.blobs[:0]
					if _, err := g.Send(context.Background(), tr, 1, content, now); err != nil {
						b.Fatal(err)
					}
				}
				if len(tr.blobs) != 1 || len(tr.pairwise) != 0 {
					b.Fatalf("%d blobs, %d pairwise payloads per message", len(tr.blobs), len(tr.pairwise))
				}
				b.ReportMetric(float64(len(tr.blobs[0])), "wire-B/msg")
				b.ReportMetric(0, "pairwise/msg")
			})
		}
	}
}

// BenchmarkRemoval: what removing one member costs. Measured once on a real run of the
// removal over the in-memory network: the admin's n-1 commits (pairwise; the removed member
// learns it is out), then every remaining member's one announcement of its new chain (n-2
// blobs, under the new epoch's tag); the loop times one member's share (a new chain and its
// signed announcement).
func BenchmarkRemoval(b *testing.B) {
	for _, n := range []int{2, 30, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			s := newSim(b, n, 1)
			s.net.maxDelay, s.net.dupRate = 0, 0
			var others []Member
			for i := 1; i < n; i++ {
				others = append(others, Member{KeyHash: testKeyHash(s.fps[i]), FP: s.fps[i]})
			}
			ctx := context.Background()
			g, err := s.sets[0].Create(ctx, s.trs[0], "bench", PolicyAdmin, others, s.now)
			if err != nil {
				b.Fatal(err)
			}
			s.gid = g.ID()
			for range 3 {
				s.step(all)
			}
			msgs0, bytes0, puts0, putBytes0 := s.net.pairwiseMsgs, s.net.pairwiseBytes, s.net.puts, s.net.putBytes
			if err := g.Remove(ctx, s.trs[0], s.fps[n-1], s.now); err != nil {
				b.Fatal(err)
			}
			for range 3 {
				s.step(all)
			}
			msgs, bytes := s.net.pairwiseMsgs-msgs0, s.net.pairwiseBytes-bytes0
			puts, putBytes := s.net.puts-puts0, s.net.putBytes-putBytes0
			if msgs != n-1 || puts != n-1 || putBytes != (n-1)*AnnouncementSize {
				b.Fatalf("a removal: %d pairwise payloads, %d blobs (%d bytes); want %d, %d of %d bytes", msgs, puts, putBytes, n-1, n-1, AnnouncementSize)
			}

			m := s.group(0) // the admin: with 2 members, member 1 is the one removed
			b.ReportAllocs()
			for b.Loop() {
				m.mu.Lock()
				if err := m.newOwn(m.own.gen + 1); err != nil {
					b.Fatal(err)
				}
				if err := m.announce(s.now); err != nil {
					b.Fatal(err)
				}
				m.puts = m.puts[:0]
				m.mu.Unlock()
			}
			b.ReportMetric(float64(msgs), "pairwise/removal")
			b.ReportMetric(float64(bytes), "pairwise-B/removal")
			b.ReportMetric(float64(puts), "blobs/removal")
			b.ReportMetric(float64(putBytes), "blob-B/removal")
		})
	}
}
