package peers

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// BenchmarkClientPutLarge is BenchmarkClientPut with 256 KiB blobs (a body read in pooled
// chunks, echo/chunk.go), 16 Puts in flight: what the chunks' one extra copy costs on the
// whole path (TLS over QUIC, validation, the blob's hash, the store), in CPU per put.
func BenchmarkClientPutLarge(b *testing.B) {
	n := benchNode(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := DialClient(ctx, "127.0.0.1:"+itoa(n.Port()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := make([]byte, 256<<10)
	rand.Read(payload)
	expiry := time.Now().Add(time.Hour).Unix()
	var seq atomic.Uint64
	var next atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range 16 {
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
