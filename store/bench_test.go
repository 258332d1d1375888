package store

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPut measures acknowledged (committed, fsynced) 1 KiB puts from
// many concurrent callers, as a relay with many peers produces them.
func BenchmarkPut(b *testing.B) {
	for _, flush := range []int{DefaultFlushBlobs, 512} {
		b.Run(fmt.Sprintf("flush=%d", flush), func(b *testing.B) {
			c := newClock()
			s := openStore(b, dbPath(b), Options{Now: c.Now, MaxMailboxBlobs: 1 << 30, MaxMailboxBytes: 1 << 40, FlushBlobs: flush})
			var n atomic.Int64
			w0 := writtenBytes()
			cpu0 := cpuTime()
			b.SetBytes(1024)
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					// A fixed TTL: expiries rise with arrival, ~100 blobs a second.
					if _, err := s.Put(context.Background(), mkBlob(i, benchTag(i), t0+1000+int64(i/100), 1024)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(b.N)/float64(st.Commits), "puts/commit")
			// CPU per put is steadier than ns/op on a machine shared with other work.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/put")
			if w0 >= 0 {
				b.ReportMetric(float64(writtenBytes()-w0)/float64(b.N), "written-B/put")
			}
		})
	}
}

// benchTag spreads puts over 1000 mailboxes.
func benchTag(i int) (t [32]byte) {
	t[0], t[1], t[2] = byte(i%1000), byte(i%1000>>8), 2
	return t
}

// cpuTime is the CPU time (user and system) this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writtenBytes is what this process has passed to write(2) so far (WAL
// frames and checkpoints included), or -1 off Linux.
func writtenBytes() int64 { return procIO("wchar") }

// diskBytes is what the kernel charged this process for sending to the
// block layer (write_bytes: whole pages dirtied), or -1.
func diskBytes() int64 { return procIO("write_bytes") }

// procIO reads one counter of /proc/self/io, or -1.
func procIO(field string) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+": "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// BenchmarkPutSerial is one caller waiting for each ack: the latency of a
// lone Put (commit window plus one fsync; with SyncEvery the window alone),
// and per put the bytes it passed to write (written-B) and the pages the
// kernel charged it for (disk-B), Close included.
func BenchmarkPutSerial(b *testing.B) {
	for _, c := range []struct {
		name      string
		syncEvery time.Duration
	}{{"fsync-each", 0}, {"SyncEvery=1s", time.Second}} {
		b.Run(c.name, func(b *testing.B) {
			clk := newClock()
			s := openStore(b, dbPath(b), Options{Now: clk.Now, MaxMailboxBlobs: 1 << 30, MaxMailboxBytes: 1 << 40, SyncEvery: c.syncEvery})
			w0, d0 := writtenBytes(), diskBytes()
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				if _, err := s.Put(context.Background(), mkBlob(i, tagOf(byte(i)), t0+1000, 1024)); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := s.Close(); err != nil { // the deferred fsync and the index commit count too
				b.Fatal(err)
			}
			if w0 >= 0 {
				b.ReportMetric(float64(writtenBytes()-w0)/float64(n), "written-B/put")
			}
			if d0 >= 0 {
				b.ReportMetric(float64(diskBytes()-d0)/float64(n), "disk-B/put")
			}
		})
	}
}

// benchRows is the store size for the fetch benchmarks;
// ECHORELAY_BENCH_ROWS=1000000 reproduces the 1 M row target.
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("ECHORELAY_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

var (
	fetchOnce  sync.Once
	fetchPath  string
	fetchDir   string
	fetchErr   error
	fetchRows  int
	mailboxLen = 1000 // blobs in the benchmarked mailbox, spread over the whole file
)

// fetchFixture fills a store once per process: benchRows() 1 KiB blobs in
// 5000 mailboxes plus one target mailbox (tag 0xAA…) of mailboxLen blobs.
func fetchFixture(b *testing.B) string {
	fetchOnce.Do(func() {
		fetchDir, fetchErr = os.MkdirTemp("", "storebench")
		if fetchErr != nil {
			return
		}
		fetchPath = fetchDir + "/blobs.db"
		fetchRows = benchRows()
		s, err := Open(fetchPath, Options{Now: newClock().Now, MaxBytes: 1 << 40, synchronous: "OFF"})
		if err != nil {
			fetchErr = err
			return
		}
		defer s.Close()
		every := fetchRows / mailboxLen
		var wg sync.WaitGroup
		var firstErr atomic.Value
		for i := range fetchRows {
			var tag [32]byte
			if i%every == 0 {
				tag = tagOf(0xAA)
			} else {
				tag[0], tag[1], tag[2] = byte(i%5000), byte(i%5000>>8), 1
			}
			wg.Add(1)
			s.PutAsync(mkBlob(i, tag, t0+1000+int64(i%3600), 1024), func(_ bool, err error) {
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			fetchErr = err
			return
		}
		var pages, pageSize int64
		s.Sync()
		s.rdb.QueryRow("PRAGMA page_count").Scan(&pages)
		s.rdb.QueryRow("PRAGMA page_size").Scan(&pageSize)
		logBytes := s.Stats().LogBytes
		per := float64(pages*pageSize+logBytes)/float64(fetchRows) - 1024
		fmt.Fprintf(os.Stderr, "fixture: %d rows, index %.1f MiB, log %.1f MiB, %.0f bytes overhead per 1 KiB blob\n",
			fetchRows, float64(pages*pageSize)/(1<<20), float64(logBytes)/(1<<20), per)
	})
	if fetchErr != nil {
		b.Fatal(fetchErr)
	}
	return fetchPath
}

// removeFetchFixture deletes the fetch benchmarks' shared fixture, if one
// was built; TestMain calls it once every test and benchmark has run.
func removeFetchFixture() {
	if fetchDir != "" {
		os.RemoveAll(fetchDir)
	}
}

// BenchmarkFetchMailbox100 fetches the 100 newest blobs of one mailbox out
// of a store of benchRows() rows.
func BenchmarkFetchMailbox100(b *testing.B) {
	c := newClock()
	s := openStore(b, fetchFixture(b), Options{Now: c.Now, MaxBytes: 1 << 40})
	tag := [][32]byte{tagOf(0xAA)}
	all, _, _, err := s.Fetch(tag, 0, 1000, 0)
	if err != nil || len(all) != mailboxLen {
		b.Fatalf("mailbox holds %d blobs, %v", len(all), err)
	}
	after := all[len(all)-101].Seq
	b.ReportAllocs()
	for b.Loop() {
		items, _, more, err := s.Fetch(tag, after, 100, 0)
		if err != nil || len(items) != 100 || more {
			b.Fatalf("%d items, more %v, %v", len(items), more, err)
		}
	}
}

// BenchmarkFetchTags10x10 pages ten mailboxes at once, 100 items.
func BenchmarkFetchTags10x10(b *testing.B) {
	c := newClock()
	s := openStore(b, fetchFixture(b), Options{Now: c.Now, MaxBytes: 1 << 40})
	var tags [][32]byte
	for i := 1; i <= 10; i++ {
		var tag [32]byte
		tag[0], tag[2] = byte(i), 1
		tags = append(tags, tag)
	}
	b.ReportAllocs()
	for b.Loop() {
		items, _, _, err := s.Fetch(tags, 0, 100, 0)
		if err != nil || len(items) != 100 {
			b.Fatalf("%d items, %v", len(items), err)
		}
	}
}

// BenchmarkHas is the duplicate check on every flooded blob.
func BenchmarkHas(b *testing.B) {
	c := newClock()
	s := openStore(b, fetchFixture(b), Options{Now: c.Now, MaxBytes: 1 << 40})
	ids := make([][32]byte, 1024)
	for i := range ids {
		ids[i] = mkBlob(i*97%fetchRows, [32]byte{}, 0, 1024).ID
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if ok, err := s.Has(ids[i%len(ids)]); !ok || err != nil {
			b.Fatal("missing", err)
		}
	}
}

// BenchmarkRangeIDs lists 1000 keys for reconciliation.
func BenchmarkRangeIDs(b *testing.B) {
	c := newClock()
	s := openStore(b, fetchFixture(b), Options{Now: c.Now, MaxBytes: 1 << 40})
	var max [32]byte
	for i := range max {
		max[i] = 0xff
	}
	b.ReportAllocs()
	for b.Loop() {
		keys, err := s.RangeIDs(t0+2000, [32]byte{}, 1<<62, max, 1000)
		if err != nil || len(keys) != 1000 {
			b.Fatalf("%d keys, %v", len(keys), err)
		}
	}
}

// BenchmarkPutDuringReclaim measures what lone puts wait while the store
// reclaims a log that is three quarters dead: 64 MiB of 1 KiB blobs, three
// in four expiring together, so the sweep deletes them and the segments
// left a quarter live are compacted. One lone putter runs throughout;
// reported are its latencies from the sweep until the log has shrunk, and
// how long that took. Run with -benchtime=1x.
func BenchmarkPutDuringReclaim(b *testing.B) {
	for range b.N {
		c := newClock()
		path := dbPath(b)
		s := openStore(b, path, Options{Now: c.Now, MaxMailboxBlobs: 1 << 30, MaxMailboxBytes: 1 << 40})
		const n = 64 << 10
		var wg sync.WaitGroup
		for g := range 64 {
			wg.Go(func() {
				for i := g; i < n; i += 64 {
					exp := int64(t0 + 100)
					if i%4 == 0 {
						exp = t0 + 86400
					}
					if _, err := s.Put(context.Background(), mkBlob(i, benchTag(i), exp, 1024)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err := s.Sync(); err != nil {
			b.Fatal(err)
		}
		grown := s.Stats().LogBytes
		var lat []time.Duration
		stop := make(chan struct{})
		putter := make(chan struct{})
		go func() {
			defer close(putter)
			for i := n; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				t := time.Now()
				if _, err := s.Put(context.Background(), mkBlob(i, benchTag(i), t0+86400, 1024)); err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(t))
			}
		}()
		start := time.Now()
		c.set(t0 + 100)
		if _, err := s.Sweep(); err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Minute); s.Stats().LogBytes > grown/2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(start)
		close(stop)
		<-putter
		st := s.Stats()
		if st.LogBytes > grown/2 {
			b.Fatalf("log still %d of %d bytes after 2 minutes", st.LogBytes, grown)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(took.Seconds(), "reclaim-s")
		b.ReportMetric(float64(st.Compactions), "compactions")
		b.ReportMetric(float64(len(lat)), "lone-puts")
	}
}

// BenchmarkPutLatency measures the latency of puts from 16 concurrent
// callers over 40 000 puts, enough to cross several index commits
// (FlushBlobs 8 192), whose cost shows in the tail. Run with -benchtime=1x.
func BenchmarkPutLatency(b *testing.B) {
	for range b.N {
		c := newClock()
		s := openStore(b, dbPath(b), Options{Now: c.Now, MaxMailboxBlobs: 1 << 30, MaxMailboxBytes: 1 << 40})
		const n, callers = 40000, 16
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		for g := range callers {
			wg.Go(func() {
				for i := g; i < n; i += callers {
					t := time.Now()
					if _, err := s.Put(context.Background(), mkBlob(i, benchTag(i), t0+1000+int64(i/100), 1024)); err != nil {
						b.Error(err)
						return
					}
					lat[i] = time.Since(t)
				}
			})
		}
		wg.Wait()
		slices.Sort(lat)
		for _, q := range []struct {
			name string
			at   int
		}{{"p50-ms", n / 2}, {"p99-ms", n * 99 / 100}, {"p99.9-ms", n * 999 / 1000}, {"max-ms", n - 1}} {
			b.ReportMetric(float64(lat[q.at].Microseconds())/1000, q.name)
		}
		b.ReportMetric(float64(s.Stats().IndexCommits), "index-commits")
	}
}
