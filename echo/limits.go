package echo

import (
	"fmt"
	"time"
)

// Limits are a relay's acceptance rules (PROTOCOL.md section 4).
type Limits struct {
	MaxBlob int           // largest envelope in bytes
	MaxTTL  time.Duration // furthest expiry from now
	MaxSkew time.Duration // clock tolerance on top of MaxTTL
}

// Default limits and the reasons for them are in PROTOCOL.md section 4.
const (
	DefaultMaxTTL  = 30 * 24 * time.Hour // Session's 14 days proved too short
	DefaultMaxSkew = 10 * time.Minute    // phones and Pis without a real-time clock
	FetchPageBlobs = 100                 // default FETCH page
	FetchPageBytes = 8 << 20             // bound on a FETCH page's envelope bytes
)

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{MaxBlob: DefaultMaxBlob, MaxTTL: DefaultMaxTTL, MaxSkew: DefaultMaxSkew}
}

// MaxFrame is the largest frame a link with these limits accepts.
func (l Limits) MaxFrame() int { return l.MaxBlob + MaxFrameExtra }

// Check parses env and applies the validation table of PROTOCOL.md section 2.
func (l Limits) Check(env []byte, now time.Time) (Envelope, error) {
	if len(env) > l.MaxBlob {
		return Envelope{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(env), l.MaxBlob)
	}
	e, err := ParseEnvelope(env)
	if err != nil {
		return e, err
	}
	n := now.Unix()
	if e.Expiry <= n {
		return e, fmt.Errorf("%w: %s ago", ErrExpired, time.Duration(n-e.Expiry)*time.Second)
	}
	if e.Expiry > n+int64((l.MaxTTL+l.MaxSkew)/time.Second) {
		return e, fmt.Errorf("%w: expires in %s, the limit is %s", ErrTooFarFuture,
			time.Duration(e.Expiry-n)*time.Second, l.MaxTTL)
	}
	return e, nil
}
