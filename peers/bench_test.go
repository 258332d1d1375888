package peers

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/store"
	"github.com/echorelay/echorelay/store/relaystore"
)

// benchNode runs a node over a real store for the client-path benchmark.
func benchNode(b *testing.B) *Node {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "cache.db"), store.Options{MaxMailboxBlobs: 1 << 30, MaxMailboxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		b.Fatal(err)
	}
	n, err := New(Config{Identity: id, Listen: "127.0.0.1:0",
		Relay: echo.NewRelay(echo.Config{Store: relaystore.New(st)})})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done; st.Close() })
	return n
}

// BenchmarkClientPut is the whole client path of a 1 KiB blob into one node over QUIC: the
// client's SUBMIT, the link's reader, validation, ID, group commit (synchronous=FULL) and the
// durable ACK, with 256 Puts in flight on one link (its window). Allocations count both ends.
func BenchmarkClientPut(b *testing.B) {
	benchPuts(b, 1024-47, 1024, Window)
}

// benchPuts puts b.N blobs of size payload bytes (setBytes counted per put) into one node over
// one client link, inflight at a time, and reports the process's CPU per put.
func benchPuts(b *testing.B, size, setBytes, inflight int) {
	n := benchNode(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := DialClient(ctx, "127.0.0.1:"+itoa(n.Port()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, size)
	rand.Read(payload)
	expiry := time.Now().Add(time.Hour).Unix()
	var seq atomic.Uint64
	var wg sync.WaitGroup
	b.SetBytes(int64(setBytes))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var next atomic.Int64
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, len(payload))
			copy(p, payload)
			for next.Add(1) <= int64(b.N) {
				binary.BigEndian.PutUint64(p, seq.Add(1))
				env, _ := (&echo.Envelope{Expiry: expiry, Payload: p}).Marshal()
				if _, _, err := c.Put(ctx, env); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/put")
}

// cpuTime is the CPU time this process has used: client, node and store together. On a
// machine shared with other work it is steadier than ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDialHandshake is one client link set up and closed: QUIC, TLS 1.3 with the node's
// Ed25519 certificate and the default hybrid key exchange, and the HELLO exchange. It is what
// scripts/build's no-inlining list costs for handshake crypto.
func BenchmarkDialHandshake(b *testing.B) {
	n := benchNode(b)
	addr := "127.0.0.1:" + itoa(n.Port())
	b.ReportAllocs()
	for b.Loop() {
		c, err := DialClient(context.Background(), addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
