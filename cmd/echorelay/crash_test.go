package main

import (
	"context"
	crand "crypto/rand"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
)

// TestCrashSafety: clients submit at full speed, the relay is killed with SIGKILL at a random
// moment, `echorelay check` finds the SQLite file intact, the relay restarts on the same data,
// and every blob it acknowledged before the kill is fetchable. 20 rounds (4 under -short).
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	rounds := 20
	if testing.Short() {
		rounds = 4
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	r := startRelay(t, "crash", "--rate-submits", "0", "--rate-bytes", "0", "--log-level", "warn")
	var cursor uint64
	total := 0
	for round := 0; round < rounds; round++ {
		acked := submitUntilKilled(t, r, rng)
		total += len(acked)

		out, errOut, code := runCLI(t, nil, "check", "--data", r.dir)
		if code != 0 || !strings.HasPrefix(out, "ok: ") {
			t.Fatalf("round %d: check after kill -9: exit %d %q %s", round, code, out, errOut)
		}

		r.start(r.port)
		have := map[echo.ID]bool{}
		c := r.client()
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
		for page := 0; ; page++ {
			items, next, more, err := c.Fetch(ctx, nil, cursor, 0)
			if err != nil {
				t.Fatalf("round %d: fetch: %v", round, err)
			}
			for _, it := range items {
				have[echo.BlobID(it.Envelope)] = true
			}
			cursor = next
			if !more || page > 10000 {
				break
			}
		}
		cancel()
		c.Close()
		for _, id := range acked {
			if !have[id] {
				t.Fatalf("round %d: blob %s was acknowledged before the kill and is gone after the restart (%d acked, %d found)", round, id.Short(), len(acked), len(have))
			}
		}
	}
	if total < rounds*20 {
		t.Fatalf("only %d blobs acknowledged over %d rounds: the kills came before any load", total, rounds)
	}
	t.Logf("%d rounds, %d acknowledged blobs, all present after kill -9 and restart", rounds, total)
}

// submitUntilKilled runs four clients (QUIC and TCP+TLS) that put blobs back to back, kills the
// relay with SIGKILL at a random moment once at least 20 were acknowledged, and returns the IDs
// acknowledged before the kill.
func submitUntilKilled(t *testing.T, r *relayProc, rng *rand.Rand) []echo.ID {
	t.Helper()
	var mu sync.Mutex
	var acked []echo.ID
	firstAcks := make(chan struct{})
	var once sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var clients []*peers.Client
	// Also on a failure: no submitter outlives this call.
	var stopOnce sync.Once
	finish := func() {
		stopOnce.Do(func() {
			close(stop)
			for _, c := range clients {
				c.Close() // a QUIC client would otherwise notice the dead relay only at its idle timeout
			}
			wg.Wait()
		})
	}
	defer finish()
	for w := 0; w < 4; w++ {
		addr := r.addr()
		if w%2 == 1 {
			addr = "tls://" + addr
		}
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
		c, err := peers.DialClient(ctx, addr)
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v", w, err)
		}
		clients = append(clients, c)
		size := 64 + rng.IntN(8<<10)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Payload: make([]byte, size)}
				crand.Read(e.Payload)
				env, _ := e.Marshal()
				ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
				id, _, err := c.Put(ctx, env)
				cancel()
				if err != nil {
					return // the relay died (or was killed): stop
				}
				mu.Lock()
				acked = append(acked, id)
				if len(acked) >= 20 {
					once.Do(func() { close(firstAcks) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-firstAcks:
	case <-time.After(testutil.Timeout(20 * time.Second)):
		t.Fatal("the relay acknowledged fewer than 20 blobs in time")
	}
	// The kill comes at a random moment within the next 150 ms of full-speed submitting.
	<-time.After(time.Duration(rng.IntN(150)) * time.Millisecond)
	mu.Lock()
	r.kill()
	got := append([]echo.ID(nil), acked...) // acknowledged before the kill
	mu.Unlock()
	finish()
	return got
}
