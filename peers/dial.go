package peers

import (
	"cmp"
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Backoff of a dialer: the first retry comes within 1 s of a failure (Spot-On-Lite waits 90 s),
// then the delay doubles up to BackoffMax; each delay is drawn from [d/2, d) ("equal jitter") so
// that relays restarted together do not dial in lockstep.
const (
	BackoffBase   = time.Second
	BackoffMax    = 60 * time.Second
	stableLinkFor = 30 * time.Second // a link that lived this long resets the backoff
)

func backoff(attempt int) time.Duration {
	d := BackoffMax
	if attempt < 6 {
		d = min(BackoffBase<<attempt, BackoffMax)
	}
	return d/2 + rand.N(d/2)
}

// NeighbourStatus describes one configured or inbound neighbour for status pages.
type NeighbourStatus struct {
	Peer      string    `json:"peer"`
	Label     string    `json:"label,omitempty"`       // the peers-file comment of the line
	PeerFP    string    `json:"fingerprint,omitempty"` // the authenticated key, else the pin
	State     string    `json:"state"`                 // "up", "connecting", "backoff"
	Transport string    `json:"transport,omitempty"`
	Since     time.Time `json:"since"`
	LastError string    `json:"last_error,omitempty"`
	// DownSince is when a configured line was last seen up, or when its dialer started if it
	// never was: kept across retries, zero while up and for inbound neighbours.
	DownSince time.Time `json:"down_since,omitzero"`
	BlobsIn   int64     `json:"blobs_in"`
	BlobsOut  int64     `json:"blobs_out"`
	Inbound   bool      `json:"inbound,omitempty"`
}

type dialer struct {
	n      *Node
	p      Peer
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{}

	mu      sync.Mutex // guards the fields below
	state   string
	since   time.Time
	down    time.Time // since when the line is not up: set by the first state that is not "up", kept across retries
	lastErr string
	label   string // from the peers file; updated on reload without redialing
	via     *link  // the neighbour's own link while this dialer waits for it to end (claim)
}

func (d *dialer) stop() { d.cancel() }

func (d *dialer) set(state, lastErr string) {
	d.mu.Lock()
	d.state, d.since = state, time.Now()
	switch {
	case state == "up":
		d.down = time.Time{}
	case d.down.IsZero():
		d.down = d.since
	}
	if lastErr != "" {
		d.lastErr = lastErr
	}
	d.mu.Unlock()
}

func (d *dialer) run() {
	defer d.n.wg.Done()
	attempt := 0
	for {
		// A pinned neighbour that linked to us first: no second link while that one lives.
		if waited, stop := d.waitCarrier(d.p.Pin); stop {
			return
		} else if waited {
			attempt = 0
		}
		d.set("connecting", "")
		serve, fp, err := d.n.dialLink(d.ctx, d.p)
		if err == nil {
			start := time.Now()
			d.set("up", "")
			reason := serve()
			if time.Since(start) >= stableLinkFor {
				attempt = 0
			}
			d.set("backoff", reason)
			if reason == errDuplicateLink.name {
				// Both sides dialled at once and the neighbour's link won: nothing is down, the
				// other link carries everything. Said plainly, not as an alarming "down".
				d.n.log.Info("neighbour also linked to us; using its link", "peer", d.p.String())
			} else {
				d.n.log.Info("neighbour link down", "peer", d.p.String(), "reason", reason)
			}
			// Ours lost to the neighbour's own link (duplicate_link): wait for that one.
			if waited, stop := d.waitCarrier(fp); stop {
				return
			} else if waited {
				attempt = 0
				continue
			}
		} else {
			d.set("backoff", err.Error())
			d.n.log.Debug("dial failed", "peer", d.p.String(), "err", err)
			d.n.dialFailed(d.p, err)
		}
		if d.ctx.Err() != nil {
			return
		}
		t := time.NewTimer(backoff(attempt))
		attempt++
		select {
		case <-t.C:
		case <-d.kick:
			t.Stop()
			attempt = 0
		case <-d.ctx.Done():
			t.Stop()
			return
		}
	}
}

// waitCarrier waits while another link carries the neighbour with fingerprint fp, the line
// showing as up through that link; waited reports that it did, stop that the dialer ends.
func (d *dialer) waitCarrier(fp string) (waited, stop bool) {
	if fp == "" {
		return false, false
	}
	c := d.n.carrierOf(fp)
	if c == nil {
		return false, d.ctx.Err() != nil
	}
	d.mu.Lock()
	d.via, d.state, d.since, d.lastErr, d.down = c, "up", c.since, "", time.Time{}
	d.mu.Unlock()
	select {
	case <-c.closed:
	case <-d.ctx.Done():
		stop = true
	}
	d.mu.Lock()
	d.via = nil
	d.mu.Unlock()
	return true, stop
}

// dialLink connects to a peers-file line and returns the function that serves the link.
// fp is the fingerprint the neighbour presented ("" on Echo links).
func (n *Node) dialLink(ctx context.Context, p Peer) (serve func() string, fp string, err error) {
	if p.IsEcho() {
		c, err := dialEcho(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return func() string { return n.serveEcho(c, &p) }, "", nil
	}
	s, err := n.dialStream(ctx, p)
	if err != nil {
		return nil, "", err
	}
	if err := n.pinDialled(p, s.peerFP); err != nil {
		s.close(0, "")
		return nil, "", err
	}
	return func() string { return n.serve(s, &p) }, s.peerFP, nil
}

func (n *Node) dialStream(ctx context.Context, p Peer) (stream, error) {
	if p.Pin == "" {
		p.Pin = n.known.Key(p.Addr) // pinned on first use (knownnode.go)
	}
	if p.Scheme == SchemeTLS {
		return dialTLS(ctx, p, n.cfg.Identity)
	}
	return n.quic.dial(ctx, p, n.cfg.Identity)
}

// SetPeers replaces the configured neighbours (the peers file, at start and on SIGHUP): new
// lines start dialing, removed lines stop and their links close, kept lines retry now if they
// were backing off.
func (n *Node) SetPeers(ps []Peer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return
	}
	n.peers = append([]Peer(nil), ps...)
	n.reloadKnown()
	want := map[string]Peer{}
	for _, p := range ps {
		want[p.Key()] = p
	}
	for k, d := range n.dialers {
		if _, ok := want[k]; !ok {
			d.stop()
			delete(n.dialers, k)
		}
	}
	for k, p := range want {
		if d, ok := n.dialers[k]; ok {
			d.mu.Lock()
			d.label = p.Label
			d.mu.Unlock()
			select {
			case d.kick <- struct{}{}:
			default:
			}
			continue
		}
		ctx, cancel := context.WithCancel(n.ctx)
		d := &dialer{n: n, p: p, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), label: p.Label}
		n.dialers[k] = d
		n.wg.Add(1)
		go d.run()
	}
	// Links of removed lines: dialed ones end with their dialer's context; inbound neighbours
	// that no longer match are closed.
	for l := range n.links {
		if l.dialed != nil {
			if _, ok := want[l.dialed.Key()]; !ok {
				go l.close(nil)
			}
		}
	}
	for l := range n.echoLinks {
		if l.dialed != nil {
			if _, ok := want[l.dialed.Key()]; !ok {
				go l.close()
			}
		}
	}
	go n.recheckStrangers()
}

// Neighbours reports every configured neighbour and every inbound neighbour link.
func (n *Node) Neighbours() []NeighbourStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []NeighbourStatus
	via := map[*link]bool{} // inbound links shown under the line whose dialer waits for them
	for _, d := range n.dialers {
		d.mu.Lock()
		st := NeighbourStatus{Peer: d.p.String(), Label: d.label, PeerFP: cmp.Or(d.p.Pin, n.known.Key(d.p.Addr)), State: d.state, Since: d.since, LastError: d.lastErr, DownSince: d.down}
		if l := d.via; l != nil {
			via[l] = true
			st.Transport, st.BlobsIn, st.BlobsOut, st.PeerFP = l.s.transport, l.in.Load(), l.outN.Load(), l.neighbour
		}
		d.mu.Unlock()
		for l := range n.links {
			if l.dialed != nil && l.dialed.Key() == d.p.Key() {
				st.Transport, st.BlobsIn, st.BlobsOut = l.s.transport, l.in.Load(), l.outN.Load()
				if l.neighbour != "" {
					st.PeerFP = l.neighbour
				}
			}
		}
		for l := range n.echoLinks {
			if l.dialed != nil && l.dialed.Key() == d.p.Key() {
				st.Transport, st.BlobsIn, st.BlobsOut = d.p.Scheme, l.in.Load(), l.outN.Load()
			}
		}
		out = append(out, st)
	}
	for l := range n.links {
		if l.dialed == nil && l.neighbour != "" && !via[l] && !isClosed(l.closed) {
			out = append(out, NeighbourStatus{Peer: n.peerName(l), PeerFP: l.neighbour, State: "up", Transport: l.s.transport,
				Since: l.since, BlobsIn: l.in.Load(), BlobsOut: l.outN.Load(), Inbound: true})
		}
	}
	for l := range n.echoLinks {
		if l.dialed == nil {
			out = append(out, NeighbourStatus{Peer: l.name(), State: "up", Transport: "echo",
				Since: l.since, BlobsIn: l.in.Load(), BlobsOut: l.outN.Load(), Inbound: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}
