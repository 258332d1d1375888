package main

// abuseStatus is the /status block of the abuse limits: refusals, closes by reason, the
// limits in force. It carries counts only, never an address.
func (a *adminState) abuseStatus() map[string]any {
	ab := a.node.Abuse()
	s := a.relay.Snapshot()
	return map[string]any{
		"rate_limited":         ab.RateLimited,
		"fetch_limited":        ab.FetchLimited,
		"stamp_rejected":       s.Rejects["stamp_required"],
		"neighbour_waits":      ab.NeighbourWaits,
		"refused_busy":         ab.RefusedBusy,
		"refused_per_ip":       ab.RefusedPerIP,
		"conns":                ab.Conns,
		"limiter_addresses":    ab.LimiterEntries,
		"closes_by_reason":     ab.ClosesByReason,
		"flooded_unstored":     s.FloodedUnstored,
		"stamp_bits":           ab.StampBits,
		"rate_submits":         ab.SubmitsPerSec,
		"rate_bytes":           ab.BytesPerSec,
		"rate_neighbour_blobs": ab.NeighbourBlobsS,
		"rate_fetches":         ab.FetchesPerSec,
	}
}
