package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
)

// Payloads are opaque to relays, so the load generator puts what it needs inside:
//
//	run u64 || seq u64 || sent_unix_nanos u64 || filler
//
// Each payload is unique (run, seq), so each envelope has its own ID. The envelope is exactly
// blobSize bytes.
const payloadLen = blobSize - 47

var filler = func() []byte {
	b := make([]byte, payloadLen)
	rand.Read(b)
	return b
}()

func newRun() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

func envelope(run, seq uint64, sent time.Time) []byte {
	p := make([]byte, payloadLen)
	copy(p[24:], filler[24:])
	binary.BigEndian.PutUint64(p, run)
	binary.BigEndian.PutUint64(p[8:], seq)
	binary.BigEndian.PutUint64(p[16:], uint64(sent.UnixNano()))
	var tag echo.Tag
	copy(tag[:], loadTag(seq))
	e := echo.Envelope{Expiry: time.Now().Add(2 * time.Hour).Unix(), Tag: tag, Payload: p}
	b, _ := e.Marshal()
	return b
}

// decode returns run, seq and send time of a benchmark envelope.
func decode(env []byte) (run, seq uint64, sent int64, ok bool) {
	e, err := echo.ParseEnvelope(env)
	if err != nil || len(e.Payload) != payloadLen {
		return 0, 0, 0, false
	}
	p := e.Payload
	return binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:]), int64(binary.BigEndian.Uint64(p[16:])), true
}

type pushResult struct {
	acked   int
	errs    map[string]int
	elapsed time.Duration
	ackLat  []time.Duration
}

func dialAll(addr string, n int) ([]*peers.Client, error) {
	var cs []*peers.Client
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := peers.DialClient(ctx, addr)
		cancel()
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeAll(cs []*peers.Client) {
	for _, c := range cs {
		c.Close()
	}
}

// pushAll submits n blobs as fast as the relay acknowledges them: conns connections, inflight
// concurrent Puts on each (peers.Client pipelines them on one link).
func pushAll(c config, addr string, run uint64, n int) (pushResult, error) {
	cs, err := dialAll(addr, c.conns)
	if err != nil {
		return pushResult{}, err
	}
	defer closeAll(cs)
	var next atomic.Int64
	var mu sync.Mutex
	res := pushResult{errs: map[string]int{}}
	var wg sync.WaitGroup
	start := time.Now()
	for _, cl := range cs {
		for range c.inflight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				acked := 0
				errs := map[string]int{}
				for {
					i := next.Add(1)
					if i > int64(n) {
						break
					}
					t := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					_, _, err := cl.Put(ctx, envelope(run, uint64(i), t))
					cancel()
					if err != nil {
						errs[reason(err)]++
						continue
					}
					acked++
					lat = append(lat, time.Since(t))
				}
				mu.Lock()
				res.acked += acked
				res.ackLat = append(res.ackLat, lat...)
				for k, v := range errs {
					res.errs[k] += v
				}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, nil
}

func reason(err error) string {
	var e *echo.Error
	if errors.As(err, &e) {
		return e.Code.String()
	}
	return err.Error()
}

// singleRelay pushes n blobs into one fresh relay.
func singleRelay(c config, dir string, n int) (Phase, error) {
	r, err := startRelay(c.bin, "single", dir)
	if err != nil {
		return Phase{}, err
	}
	defer r.stop()
	return pushInto(c, r, n)
}

// profileAll starts CPU profiles of rs for this phase when --profile is set.
func profileAll(c config, phase string, rs ...*relay) (wait func()) {
	if c.profile == "" {
		return func() {}
	}
	var ws []func()
	for _, r := range rs {
		ws = append(ws, r.profile(c.profile, phase, 3*time.Second))
	}
	return func() {
		for _, w := range ws {
			w()
		}
	}
}

func pushInto(c config, r *relay, n int) (Phase, error) {
	before, err := r.status()
	if err != nil {
		return Phase{}, err
	}
	s := newSampler(r)
	defer profileAll(c, r.name, r)()
	res, err := pushAll(c, r.addr(), newRun(), n)
	if err != nil {
		s.stop([]int64{0})
		return Phase{}, err
	}
	after, err := r.status()
	if err != nil {
		s.stop([]int64{0})
		return Phase{}, err
	}
	stored := after.Stored - before.Stored
	p := Phase{Sent: n, Delivered: stored, MsgsPerS: float64(res.acked) / res.elapsed.Seconds(),
		Seconds: res.elapsed.Seconds(), Errors: res.errs, AckLatency: percentiles(res.ackLat)}
	p.Use = s.stop([]int64{stored})
	p.DeliveryRatio = float64(stored) / float64(n)
	return p, nil
}

// singleRelayBig starts a relay on the prefilled store in dir, pushes c.n blobs, then times
// fetches of the 100 newest blobs of the target mailbox over the network.
func singleRelayBig(c config, dir string) (Phase, Fetch, error) {
	r, err := startRelay(c.bin, "single-1M", dir)
	if err != nil {
		return Phase{}, Fetch{}, err
	}
	defer r.stop()
	p, err := pushInto(c, r, c.n)
	if err != nil {
		return p, Fetch{}, err
	}
	f, err := fetchNewest(r, c.fetchRuns)
	return p, f, err
}

func fetchNewest(r *relay, runs int) (Fetch, error) {
	cl, err := r.client()
	if err != nil {
		return Fetch{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tags := []echo.Tag{echo.Tag(targetTag)}
	var seqs []uint64
	for after, page := uint64(0), 0; page < 10*targetBlobs; page++ {
		items, next, more, err := cl.Fetch(ctx, tags, after, 100)
		if err != nil {
			return Fetch{}, err
		}
		for _, it := range items {
			seqs = append(seqs, it.Seq)
		}
		after = next
		if !more {
			break
		}
	}
	if len(seqs) < 101 {
		return Fetch{}, fmt.Errorf("target mailbox holds %d blobs, want more than 100", len(seqs))
	}
	after := seqs[len(seqs)-101]
	var lat []time.Duration
	for range runs {
		t := time.Now()
		items, _, _, err := cl.Fetch(ctx, tags, after, 100)
		if err != nil {
			return Fetch{}, err
		}
		lat = append(lat, time.Since(t))
		if len(items) != 100 {
			return Fetch{}, fmt.Errorf("fetch returned %d blobs, want 100", len(items))
		}
	}
	return Fetch{MailboxBlobs: len(seqs), Runs: runs, Latency: percentiles(lat)}, nil
}

// chain starts A→B→C, runs the full-speed phase and then the fixed-rate phase.
func chain(c config, dir string) (Phase, FixedRate, error) {
	var rs []*relay
	defer func() {
		for _, r := range rs {
			r.stop()
		}
	}()
	for _, name := range []string{"A", "B", "C"} {
		r, err := startRelay(c.bin, name, filepath.Join(dir, name))
		if err != nil {
			return Phase{}, FixedRate{}, err
		}
		rs = append(rs, r)
	}
	a, b, cc := rs[0], rs[1], rs[2]
	for _, e := range []error{a.setPeers(b), b.setPeers(a, cc), cc.setPeers(b)} {
		if e != nil {
			return Phase{}, FixedRate{}, e
		}
	}
	for r, want := range map[*relay]int{a: 1, b: 2, cc: 1} {
		if err := r.waitStatus(fmt.Sprintf("%d neighbours", want), 30*time.Second, func(s status) bool { return s.NeighboursUp == want }); err != nil {
			return Phase{}, FixedRate{}, err
		}
	}
	full, err := chainFull(c, rs)
	if err != nil {
		return full, FixedRate{}, err
	}
	logf("chain A→B→C at a fixed %d msg/s for %s, subscribers at B and C", c.rate, c.rateFor)
	fixed, err := chainFixed(c, rs)
	return full, fixed, err
}

func storedAll(rs []*relay) ([]int64, error) {
	var out []int64
	for _, r := range rs {
		s, err := r.status()
		if err != nil {
			return nil, err
		}
		out = append(out, s.Stored)
	}
	return out, nil
}

func chainFull(c config, rs []*relay) (Phase, error) {
	before, err := storedAll(rs)
	if err != nil {
		return Phase{}, err
	}
	s := newSampler(rs...)
	defer profileAll(c, "chain-full", rs...)()
	start := time.Now()
	var res pushResult
	var perr error
	pushed := make(chan struct{})
	go func() { res, perr = pushAll(c, rs[0].addr(), newRun(), c.n); close(pushed) }()
	// Poll C until it holds every blob, or nothing has arrived for 15 s.
	last, lastAt := int64(0), time.Now()
	var end time.Time // when the last new blob was seen
	for {
		st, err := rs[2].status()
		if err == nil {
			got := st.Stored - before[2]
			if got > last {
				last, lastAt = got, time.Now()
			}
			if got >= int64(c.n) {
				end = lastAt
				break
			}
		}
		if time.Since(lastAt) > 15*time.Second {
			end = lastAt
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	<-pushed
	after, err := storedAll(rs)
	if err != nil {
		s.stop([]int64{0, 0, 0})
		return Phase{}, err
	}
	if perr != nil {
		s.stop([]int64{0, 0, 0})
		return Phase{}, perr
	}
	var got []int64
	for i := range rs {
		got = append(got, after[i]-before[i])
	}
	p := Phase{Sent: c.n, Delivered: got[2], Seconds: end.Sub(start).Seconds(), Errors: res.errs,
		AckLatency: percentiles(res.ackLat), IngestMsgsPerS: float64(res.acked) / res.elapsed.Seconds()}
	p.MsgsPerS = float64(got[2]) / p.Seconds
	p.DeliveryRatio = float64(got[2]) / float64(c.n)
	p.Use = s.stop(got)
	p.Drops = map[string]int64{}
	for _, r := range rs {
		if st, err := r.status(); err == nil {
			p.Drops[r.name] = st.QueueDrops
		}
	}
	return p, nil
}

// arrivals records the first arrival time of each seq of one run at one subscriber.
type arrivals struct {
	run uint64
	mu  sync.Mutex
	at  map[uint64]int64
}

func subscribe(r *relay, arr *arrivals) (func(), error) {
	cl, err := r.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	caught := make(chan struct{})
	var once sync.Once
	go cl.Subscribe(ctx, nil, 0, func(it echo.Item) {
		now := time.Now().UnixNano()
		run, seq, _, ok := decode(it.Envelope)
		if !ok || run != arr.run {
			return
		}
		arr.mu.Lock()
		if _, dup := arr.at[seq]; !dup {
			arr.at[seq] = now
		}
		arr.mu.Unlock()
	}, func() { once.Do(func() { close(caught) }) })
	select {
	case <-caught:
	case <-time.After(2 * time.Minute):
		cancel()
		cl.Close()
		return nil, fmt.Errorf("%s: subscription did not catch up", r.name)
	}
	return func() { cancel(); cl.Close() }, nil
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

func chainFixed(c config, rs []*relay) (FixedRate, error) {
	run := newRun()
	atB := &arrivals{run: run, at: map[uint64]int64{}}
	atC := &arrivals{run: run, at: map[uint64]int64{}}
	stopB, err := subscribe(rs[1], atB)
	if err != nil {
		return FixedRate{}, err
	}
	defer stopB()
	stopC, err := subscribe(rs[2], atC)
	if err != nil {
		return FixedRate{}, err
	}
	defer stopC()
	cs, err := dialAll(rs[0].addr(), c.conns)
	if err != nil {
		return FixedRate{}, err
	}
	defer closeAll(cs)
	before, err := storedAll(rs)
	if err != nil {
		return FixedRate{}, err
	}
	n := int(c.rateFor.Seconds() * float64(c.rate))
	sent := make([]int64, n+1)
	s := newSampler(rs...)
	defer profileAll(c, "chain-fixed", rs...)()
	var wg sync.WaitGroup
	var failed atomic.Int64
	acks := make([]time.Duration, n+1) // client → A: send until the durable ACK
	start := time.Now()
	interval := time.Second / time.Duration(c.rate)
	for i := 1; i <= n; i++ {
		at := start.Add(time.Duration(i-1) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d) // pacing the load generator, not synchronisation
		}
		// The scheduled time goes into the payload, so a stalled sender counts against latency.
		sent[i] = at.UnixNano()
		wg.Add(1)
		go func(i int, cl *peers.Client) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, _, err := cl.Put(ctx, envelope(run, uint64(i), at)); err != nil {
				failed.Add(1)
				return
			}
			acks[i] = time.Since(at)
		}(i, cs[i%len(cs)])
	}
	sendSecs := time.Since(start).Seconds()
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for atC.count() < n-int(failed.Load()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	after, err := storedAll(rs)
	if err != nil {
		s.stop([]int64{0, 0, 0})
		return FixedRate{}, err
	}
	var got []int64
	for i := range rs {
		got = append(got, after[i]-before[i])
	}
	f := FixedRate{Rate: c.rate, Sent: n, Failed: int(failed.Load()), SendSeconds: sendSecs, Use: s.stop(got)}
	atB.mu.Lock()
	atC.mu.Lock()
	defer atB.mu.Unlock()
	defer atC.mu.Unlock()
	f.AtB, f.AtC = len(atB.at), len(atC.at)
	f.DeliveryRatio = float64(f.AtC) / float64(n)
	var h1, h2, e2e []time.Duration
	for i := 1; i <= n; i++ {
		tb, okB := atB.at[uint64(i)]
		tc, okC := atC.at[uint64(i)]
		if okB {
			h1 = append(h1, time.Duration(tb-sent[i]))
		}
		if okB && okC {
			h2 = append(h2, time.Duration(tc-tb))
		}
		if okC {
			e2e = append(e2e, time.Duration(tc-sent[i]))
		}
	}
	var ack []time.Duration
	for _, d := range acks[1:] {
		if d > 0 {
			ack = append(ack, d)
		}
	}
	f.AckA = percentiles(ack)
	f.HopAB, f.HopBC, f.EndToEnd = percentiles(h1), percentiles(h2), percentiles(e2e)
	return f, nil
}

// percentiles summarises latencies in milliseconds.
func percentiles(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return float64(d[i]) / 1e6
	}
	return Latency{N: len(d), P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: float64(d[len(d)-1]) / 1e6}
}
