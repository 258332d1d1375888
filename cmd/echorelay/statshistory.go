package main

import (
	"context"
	"sync"
	"time"
)

// HistoryLen is how many steps the status page's graphs show: 60 steps of --history-interval
// (1 minute by default, so the last hour).
const HistoryLen = 60

// sample is the relay's cumulative counters at one instant.
type sample struct {
	at         time.Time
	in, out    int64 // blobs received (clients and neighbours), blob frames queued to neighbours
	cacheBytes int64
	cacheBlobs int64
}

// statsHistory is a ring of the last HistoryLen+1 samples (HistoryLen+1 samples give HistoryLen
// rates). It is safe for concurrent use.
type statsHistory struct {
	step time.Duration

	mu   sync.Mutex // guards the fields below
	ring [HistoryLen + 1]sample
	n    int // samples held, at most len(ring)
	next int // where the next sample goes
}

func newStatsHistory(step time.Duration) *statsHistory { return &statsHistory{step: step} }

func (h *statsHistory) add(s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	h.n = min(h.n+1, len(h.ring))
}

// samples returns the held samples, oldest first.
func (h *statsHistory) samples() []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]sample, 0, h.n)
	for i := h.n; i > 0; i-- {
		out = append(out, h.ring[(h.next-i+len(h.ring))%len(h.ring)])
	}
	return out
}

// historyView is the history as /status shows it: per-minute rates between consecutive
// samples, and the cache size at each sample after the first.
type historyView struct {
	StepS      float64   `json:"step_s"`
	BlobsIn    []float64 `json:"blobs_in_per_min"`
	BlobsOut   []float64 `json:"blobs_out_per_min"`
	CacheBytes []float64 `json:"cache_bytes"`
}

func (h *statsHistory) view() historyView {
	ss := h.samples()
	v := historyView{StepS: h.step.Seconds(), BlobsIn: []float64{}, BlobsOut: []float64{}, CacheBytes: []float64{}}
	for i := 1; i < len(ss); i++ {
		dt := ss[i].at.Sub(ss[i-1].at).Minutes()
		if dt <= 0 {
			dt = h.step.Minutes()
		}
		v.BlobsIn = append(v.BlobsIn, rate(ss[i].in-ss[i-1].in, dt))
		v.BlobsOut = append(v.BlobsOut, rate(ss[i].out-ss[i-1].out, dt))
		v.CacheBytes = append(v.CacheBytes, float64(ss[i].cacheBytes))
	}
	return v
}

// rate is a per-minute rate rounded to 0.1 (counters never go down; a negative delta after a
// restart of the counter source is shown as 0).
func rate(delta int64, minutes float64) float64 {
	if delta <= 0 {
		return 0
	}
	r := float64(delta) / minutes
	return float64(int64(r*10+0.5)) / 10
}

// run takes a sample now and every step until ctx ends.
func (h *statsHistory) run(ctx context.Context, take func() sample) {
	h.add(take())
	t := time.NewTicker(h.step)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			h.add(take())
		case <-ctx.Done():
			return
		}
	}
}
