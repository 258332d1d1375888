package admin

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Words: what the page and the terminal say about a Status, in the same sentences.

// Verdict is the one line that says whether the relay works, and its tone (ok, warn, idle).
func (r *Status) Verdict() (text, tone string) {
	down := 0
	for _, n := range r.Neighbours {
		if !n.Inbound && n.State != "up" {
			down++
		}
	}
	switch {
	case r.Cache.SyncFailures > 0:
		return fmt.Sprintf("Disk trouble: saving to disk failed %s; messages that arrived shortly before may be lost if the power goes. Check the SD card or disk (dmesg)",
			Plural(int(r.Cache.SyncFailures), "time", "times")), "warn"
	case r.PeersFile.Error != "":
		return fmt.Sprintf("Peers file not applied: %s. The relay keeps the neighbours it had; fix the file, then run echorelay reload",
			r.PeersFile.Error), "warn"
	case !r.Now.IsZero() && r.Now.Before(ClockFloor):
		return fmt.Sprintf("Clock wrong: this computer says it is %s, so messages are refused as too far ahead. Set the time (NTP, or sudo date -s)",
			r.Now.UTC().Format("2006-01-02 15:04")), "warn"
	case expiryRefusals(r) > 0:
		return fmt.Sprintf("Many messages refused for their expiry (%d too far ahead, %d already expired): check this computer's clock (timedatectl)",
			r.Rejects["too_far_future"], r.Rejects["expired"]), "warn"
	case r.Configured() == 0 && r.NeighboursUp == 0:
		return "Running on its own: no neighbours in the peers file yet", "idle"
	case down == 0:
		return fmt.Sprintf("Working: %s connected", Plural(r.NeighboursUp, "neighbour", "neighbours")), "ok"
	case down == r.Configured() && r.NeighboursUp == 0:
		return "Running, but no neighbour is connected", "warn"
	default:
		return fmt.Sprintf("Working, but not connected to %d of %d neighbours", down, r.Configured()), "warn"
	}
}

// ClockFloor is a time before any day this build runs on: a clock behind it was never set (a
// Raspberry Pi has no battery-backed clock and may boot in 1970 without network time).
var ClockFloor = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// expiryRefusals is the number of blobs refused for their expiry when that is a quarter or more
// of all offered (and at least 20): then the clock, this relay's or its senders', is the likely
// cause rather than the odd stale blob. 0 otherwise.
func expiryRefusals(r *Status) int64 {
	n := r.Rejects["too_far_future"] + r.Rejects["expired"]
	if n < 20 || n*4 < r.Received {
		return 0
	}
	return n
}

// rejectRow is one reject reason with its count.
type rejectRow struct {
	Reason string
	Count  int64
}

// rejectRows lists reasons with a non-zero count, largest first.
func (r *Status) rejectRows() []rejectRow {
	var out []rejectRow
	for k, v := range r.Rejects {
		if v > 0 {
			out = append(out, rejectRow{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// cachePercent is the cache fill in percent, 0..100.
func (r *Status) cachePercent() float64 {
	if r.Cache.MaxBytes <= 0 {
		return 0
	}
	return min(100, 100*float64(r.Cache.Bytes)/float64(r.Cache.MaxBytes))
}

// whatItDoes says in everyday words what the relay is for, under the verdict.
func (r *Status) whatItDoes() string {
	keep := ""
	if r.Limits.MaxTTLS > 0 {
		keep = " for up to " + roughDuration(time.Duration(r.Limits.MaxTTLS)*time.Second)
	}
	return "This relay passes locked (end-to-end encrypted) messages between the class's devices and its neighbour relays, " +
		"and keeps each one" + keep + " until it is picked up. It cannot read them."
}

// durabilityWords says when an accepted message is safe from a power cut.
func (r *Status) durabilityWords() string {
	if r.Cache.FsyncEveryMs > 0 {
		d := roughDuration(time.Duration(r.Cache.FsyncEveryMs) * time.Millisecond)
		return fmt.Sprintf("Messages are saved to the card within %s of arriving (--fsync-every): a power cut can lose the last %s.", d, d)
	}
	return "Every message is saved to the SD card before the relay confirms it."
}

// stateWords says a neighbour's state the way a person would.
func stateWords(n Neighbour) string {
	switch n.State {
	case "up":
		return "connected"
	case "connecting":
		return "connecting"
	case "backoff":
		return "retrying soon"
	}
	return n.State
}

// stateLine is a neighbour's state with how long it has been so: "connected for 1 h 30 min",
// "connecting for 3 s" (not failed yet), or "not reachable since 14:02 (25 min)", counted from
// the last time it was up however often the relay retried since. Times are this computer's
// local time, the time the relay runs in.
func stateLine(n Neighbour, now time.Time) string {
	switch {
	case n.State == "up":
		return "connected for " + humanDuration(n.ForS)
	case !n.DownSince.IsZero() && (n.LastError != "" || n.DownForS > n.ForS):
		return fmt.Sprintf("not reachable since %s (%s)", clockWords(n.DownSince, now), roughDuration(time.Duration(n.DownForS)*time.Second))
	}
	return stateWords(n) + " for " + humanDuration(n.ForS)
}

// clockWords prints t as a local time of day, with the date when it is not today's.
func clockWords(t, now time.Time) string {
	t = t.Local()
	if now.IsZero() {
		now = time.Now()
	}
	now = now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("2 Jan 15:04")
}

// reasonWords explains a reject reason (a wire error code name from echo/PROTOCOL.md).
func reasonWords(code string) string {
	switch code {
	case "too_large":
		return "too large"
	case "expired":
		return "already expired"
	case "too_far_future":
		return "expiry too far ahead (clock?)"
	case "quota_exceeded":
		return "mailbox full"
	case "store_full":
		return "cache full"
	case "malformed":
		return "malformed"
	case "rate_limited":
		return "sender too fast"
	case "stamp_required":
		return "missing proof of work"
	case "not_neighbour":
		return "not a neighbour"
	}
	return strings.ReplaceAll(code, "_", " ")
}

func lastValue(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// blobWord is "blob" for one, "blobs" otherwise.
func blobWord(n int64) string {
	if n == 1 {
		return "blob"
	}
	return "blobs"
}

// HumanBytes prints sizes in powers of 1024 with their proper names, so that the default
// --max-store of 1073741824 reads as the 1 GiB its help text promises.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[i-1])
}

// roughDuration prints d in one or two round units: "40 s", "7 min", "1 h", "1 h 30 min", "30 days".
func roughDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 0:
		return "0 s"
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min", (s+30)/60)
	case s < 86400:
		h, m := s/3600, (s%3600+30)/60
		if m == 60 {
			h, m = h+1, 0
		}
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	case s%86400 == 0 || s >= 10*86400:
		return Plural(int((s+43200)/86400), "day", "days")
	}
	return fmt.Sprintf("%s %d h", Plural(int(s/86400), "day", "days"), s%86400/3600)
}

// humanNumber prints a number as a person writes it: whole numbers with grouped thousands,
// others with at most two decimals; never in exponent notation (2.097152e+06).
func humanNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return formatMetric(v)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return humanCount(int64(v))
	case math.Abs(v) >= 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// shortBytes is humanBytes without a trailing ".0": "2 MiB", "1.5 KiB".
func shortBytes(n int64) string {
	s := HumanBytes(n)
	if i := strings.Index(s, ".0 "); i >= 0 {
		s = s[:i] + s[i+2:]
	}
	return s
}

// perMinute labels a per-minute rate: "12 per min".
func perMinute(v float64) string { return humanNumber(v) + " per min" }

// extraWords prints a counter /status has under key in its units: sizes (a "bytes" in the key)
// in KiB, MiB, …; rates (a "rate_" in the key, per second; not "rate_limited", a count) as
// "… per second".
func extraWords(key string, v float64) string {
	per := ""
	if (strings.Contains(key, "rate_") && !strings.Contains(key, "rate_limited")) || strings.HasSuffix(key, "_per_s") {
		per = " per second"
	}
	if strings.Contains(key, "bytes") && !math.IsNaN(v) && !math.IsInf(v, 0) {
		return shortBytes(int64(v)) + per
	}
	return humanNumber(v) + per
}

// humanDuration prints the two largest units: "3 d 4 h", "5 min 2 s", "40 s".
func humanDuration(s int64) string {
	if s < 0 {
		s = 0
	}
	d, h, m := s/86400, s/3600%24, s/60%60
	sec := s % 60
	switch {
	case d > 0:
		return fmt.Sprintf("%d d %d h", d, h)
	case h > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case m > 0:
		return fmt.Sprintf("%d min %d s", m, sec)
	}
	return fmt.Sprintf("%d s", sec)
}

// humanCount groups thousands with a thin space: 1 234 567.
func humanCount(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
