package admin

import (
	"maps"
	"slices"
	"sort"
)

// Counter is one of the "more counters": those of reconciliation, the Echo bridge and the
// abuse limits, which the page shows under its last Details, `echorelay status --all` lists
// and /metrics exports as echorelay_KEY. Labels is set for a counter with one value per key
// (closes by reason), Value otherwise.
type Counter struct {
	Key    string
	Value  float64
	Labels map[string]float64
}

// Counters lists the counters of s.Reconcile, s.Echo and s.Abuse, sorted by key.
func (s *Status) Counters() []Counter {
	var out []Counter
	add := func(key string, v float64) { out = append(out, Counter{Key: key, Value: v}) }
	rc := s.Reconcile
	add("reconcile_sessions", float64(rc.Sessions))
	add("reconcile_running", float64(rc.Running))
	add("reconcile_rounds", float64(rc.Rounds))
	add("reconcile_bytes_out", float64(rc.BytesOut))
	add("reconcile_bytes_in", float64(rc.BytesIn))
	add("reconcile_wanted", float64(rc.Wanted))
	add("reconcile_missing", float64(rc.Missing))
	add("reconcile_served", float64(rc.Served))
	for _, k := range slices.Sorted(maps.Keys(s.Echo)) {
		add("echo_"+k, float64(s.Echo[k]))
	}
	a := s.Abuse
	add("abuse_cache_over_share", float64(s.Cache.OverShare))
	add("abuse_memory_waits", float64(s.Memory.Waits))
	add("abuse_memory_refused", float64(s.Memory.Refused))
	add("abuse_memory_in_use_bytes", float64(s.Memory.InUse))
	add("abuse_memory_peak_bytes", float64(s.Memory.Peak))
	add("abuse_memory_budget_bytes", float64(s.Memory.Budget))
	add("abuse_rate_limited", float64(a.RateLimited))
	add("abuse_fetch_limited", float64(a.FetchLimited))
	add("abuse_stamp_rejected", float64(a.StampRejected))
	add("abuse_neighbour_waits", float64(a.NeighbourWaits))
	add("abuse_refused_busy", float64(a.RefusedBusy))
	add("abuse_refused_per_ip", float64(a.RefusedPerIP))
	add("abuse_conns", float64(a.Conns))
	add("abuse_limiter_addresses", float64(a.LimiterEntries))
	add("abuse_flooded_unstored", float64(a.FloodedUnstored))
	add("abuse_stamp_bits", float64(a.StampBits))
	add("abuse_rate_submits", a.SubmitsPerSec)
	add("abuse_rate_bytes", a.BytesPerSec)
	add("abuse_rate_neighbour_blobs", a.NeighbourBlobsS)
	add("abuse_rate_fetches", a.FetchesPerSec)
	if len(a.ClosesByReason) > 0 {
		l := make(map[string]float64, len(a.ClosesByReason))
		for k, v := range a.ClosesByReason {
			l[k] = float64(v)
		}
		out = append(out, Counter{Key: "abuse_closes_by_reason", Labels: l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
