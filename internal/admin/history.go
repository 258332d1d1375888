package admin

import (
	"context"
	"sync"
	"time"
)

// HistoryLen is how many steps the status page's graphs show: 60 steps of --history-interval
// (1 minute by default, so the last hour).
const HistoryLen = 60

// Sample is the relay's cumulative counters at one instant.
type Sample struct {
	At         time.Time
	In, Out    int64 // blobs received (clients and neighbours), blob frames queued to neighbours
	CacheBytes int64
	CacheBlobs int64
}

// HistoryRing is a ring of the last HistoryLen+1 samples (HistoryLen+1 samples give HistoryLen
// rates). It is safe for concurrent use.
type HistoryRing struct {
	step time.Duration

	mu   sync.Mutex // guards the fields below
	ring [HistoryLen + 1]Sample
	n    int // samples held, at most len(ring)
	next int // where the next sample goes
}

// NewHistoryRing returns an empty ring sampled every step.
func NewHistoryRing(step time.Duration) *HistoryRing { return &HistoryRing{step: step} }

// Add records a sample, dropping the oldest when the ring is full.
func (h *HistoryRing) Add(s Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	h.n = min(h.n+1, len(h.ring))
}

// samples returns the held samples, oldest first.
func (h *HistoryRing) samples() []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Sample, 0, h.n)
	for i := h.n; i > 0; i-- {
		out = append(out, h.ring[(h.next-i+len(h.ring))%len(h.ring)])
	}
	return out
}

// History is the ring as /status shows it: per-minute rates between consecutive samples, and
// the cache size at each sample after the first.
type History struct {
	StepS      float64   `json:"step_s"`
	BlobsIn    []float64 `json:"blobs_in_per_min"`
	BlobsOut   []float64 `json:"blobs_out_per_min"`
	CacheBytes []float64 `json:"cache_bytes"`
}

// View computes the rates of the samples held.
func (h *HistoryRing) View() History {
	ss := h.samples()
	v := History{StepS: h.step.Seconds(), BlobsIn: []float64{}, BlobsOut: []float64{}, CacheBytes: []float64{}}
	for i := 1; i < len(ss); i++ {
		dt := ss[i].At.Sub(ss[i-1].At).Minutes()
		if dt <= 0 {
			dt = h.step.Minutes()
		}
		v.BlobsIn = append(v.BlobsIn, rate(ss[i].In-ss[i-1].In, dt))
		v.BlobsOut = append(v.BlobsOut, rate(ss[i].Out-ss[i-1].Out, dt))
		v.CacheBytes = append(v.CacheBytes, float64(ss[i].CacheBytes))
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

// Run takes a sample now and every step until ctx ends.
func (h *HistoryRing) Run(ctx context.Context, take func() Sample) {
	h.Add(take())
	t := time.NewTicker(h.step)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			h.Add(take())
		case <-ctx.Done():
			return
		}
	}
}
