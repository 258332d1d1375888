package main

import (
	"flag"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
)

// abuseFlags are serve's abuse limits (PROTOCOL.md section 9, peers/limits.go).
type abuseFlags struct {
	RateSubmits, RateNeighbour         float64
	RateFetches                        float64
	RateBytes                          int64
	StampBits, MaxConns, MaxConnsPerIP int
}

func (a *abuseFlags) register(fs *flag.FlagSet) {
	d := peers.DefaultRateLimits()
	fs.Float64Var(&a.RateSubmits, "rate-submits", d.SubmitsPerSec, "client submissions per second per address, bursts of 5x; 0 disables (20/s serves a class of 30 behind one NAT)")
	fs.Float64Var(&a.RateFetches, "rate-fetches", d.FetchesPerSec, "client fetches and subscriptions per second per address, bursts of 5x; 0 disables")
	fs.Int64Var(&a.RateBytes, "rate-bytes", int64(d.BytesPerSec), "client blob bytes per second per address, bursts of 16x (at least one largest blob); 0 disables")
	fs.Float64Var(&a.RateNeighbour, "rate-neighbour", d.NeighbourBlobs, "blobs per second read from each neighbour link, bursts of 5x; above it the relay reads slower (no drops); 0 disables")
	fs.IntVar(&a.StampBits, "stamp-bits", 0, "proof-of-work cost (0..32 bits) asked of client submissions; echorelay put computes it; 0 asks none")
	fs.IntVar(&a.MaxConns, "max-conns", peers.DefaultMaxConns, "cap on concurrent connections, clients and neighbours together")
	fs.IntVar(&a.MaxConnsPerIP, "max-conns-per-ip", peers.DefaultMaxConnsPerIP, "cap on concurrent connections from one address (IPv6: one /64); 0 disables")
}

func (a *abuseFlags) check() error {
	if a.StampBits < 0 || a.StampBits > echo.MaxStampBits {
		return userErr("use 0 (no stamps) to 32; 16 costs a phone well under a second", "--stamp-bits %d is out of range", a.StampBits)
	}
	if a.RateSubmits < 0 || a.RateBytes < 0 || a.RateNeighbour < 0 || a.RateFetches < 0 {
		return userErr("use a positive rate, or 0 to disable the limit", "rates must not be negative")
	}
	if a.MaxConns < 1 || a.MaxConnsPerIP < 0 {
		return userErr("use --max-conns of at least 1 and --max-conns-per-ip of 0 (off) or more", "connection caps out of range")
	}
	return nil
}

// apply sets the node's abuse limits from the flags.
func (a *abuseFlags) apply(c *peers.Config) {
	c.Rates = peers.RateLimits{
		SubmitsPerSec: a.RateSubmits, SubmitBurst: int(5*a.RateSubmits + 0.5),
		BytesPerSec: float64(a.RateBytes), BytesBurst: 16 * a.RateBytes,
		NeighbourBlobs: a.RateNeighbour, NeighbourBurst: int(5*a.RateNeighbour + 0.5),
		FetchesPerSec: a.RateFetches, FetchBurst: int(5*a.RateFetches + 0.5),
	}
	c.StampBits = uint8(a.StampBits)
	c.MaxConns = a.MaxConns
	c.MaxConnsPerIP = a.MaxConnsPerIP
	if a.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = -1
	}
}
