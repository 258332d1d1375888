//go:build !js

package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/internal/testutil/relaytest"
	"github.com/echorelay/echorelay/mceliece/hybrid"
	"github.com/echorelay/echorelay/peers"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// relay is a real relay in this process (relaytest): a SQLite store and a node on 127.0.0.1.
// Its Node is the running one, new after a restart.
type relay struct {
	*relaytest.Relay
	id *peers.Identity
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	r := relaytest.Start(t)
	return &relay{Relay: r, id: r.ID}
}

// start brings the relay back after down, on the same port.
func (r *relay) start() { r.Up() }

// down stops the relay (its files stay; start brings it back on the same port).
func (r *relay) down() { r.Down() }

func (r *relay) addr() string { return r.Addr() }

// put stores a hand-made envelope for tag.
func (r *relay) put(t *testing.T, tag [32]byte, payload []byte) {
	t.Helper()
	e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Tag: tag, Payload: payload}
	env, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r.putRaw(t, env)
}

// putRaw stores a whole envelope at r.
func (r *relay) putRaw(t *testing.T, env []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	c, err := peers.DialClient(ctx, r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Put(ctx, env); err != nil {
		t.Fatal(err)
	}
}

// dial is the Dialer cmd/echorelay uses.
func dial(ctx context.Context, addr, fp string) (client.Conn, error) {
	c, err := peers.DialClientWith(ctx, addr, peers.DialClientOptions{RelayFingerprint: fp})
	if errors.Is(err, peers.ErrWrongRelay) {
		return nil, fmt.Errorf("%w: %w", client.ErrWrongRelay, err)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Identities are costly to make; the tests share a few of the smallest McEliece set.
var (
	idsOnce sync.Once
	ids     []*seal.Identity
	idsErr  error
)

func identity(t *testing.T, i int) *seal.Identity {
	t.Helper()
	idsOnce.Do(func() {
		for range 4 {
			id, err := seal.GenerateIdentity(hybrid.New("mceliece348864f"))
			if err != nil {
				idsErr = err
				return
			}
			ids = append(ids, id)
		}
	})
	if idsErr != nil {
		t.Fatal(idsErr)
	}
	return ids[i]
}

// clock is an injected clock that starts at the real time (the relays check expiries
// against theirs) and moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type peer struct {
	*client.Client
	id *seal.Identity
	st *client.MemStore
}

func newPeer(t *testing.T, i int, clk *clock) *peer {
	t.Helper()
	st := client.NewMemStore()
	c, err := client.New(client.Options{Identity: identity(t, i), Store: st, Dial: dial, Now: clk.Now,
		Files: client.DirSink(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{Client: c, id: identity(t, i), st: st}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testutil.Timeout(60*time.Second))
	t.Cleanup(cancel)
	return c
}

// befriend makes a and b friends through r, b accepting through via ("" for the invite's
// relay), and returns the friend records each side holds.
func befriend(t *testing.T, r *relay, a *peer, aName string, b *peer, bName, via string) {
	t.Helper()
	inv, err := a.Invite(ctx(t), r.addr(), bName, aName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Accept(ctx(t), inv, client.AcceptOptions{Name: aName, Relay: via, Wait: testutil.Timeout(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	res := receive(t, a)
	if len(res) != 1 {
		t.Fatalf("%s's receive after the answer: %#v", aName, res)
	}
	if ev, ok := res[0].(client.FriendAddedEvent); !ok || ev.Name != bName {
		t.Fatalf("%s's receive after the answer: %#v", aName, res)
	}
}

// receive runs Receive and fails on a relay that could not be read.
func receive(t *testing.T, p *peer) []client.Event {
	t.Helper()
	res, err := p.Receive(ctx(t), client.ReceiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for a, err := range res.Failed {
		t.Fatalf("receive: %s failed: %v", a, err)
	}
	return res.Events
}

// tagFrom is the tag sender uses to write to its friend in pair this epoch.
func tagFrom(p *peer, friend string, sender *seal.Identity, now time.Time) [32]byte {
	f, err := p.Friend(friend)
	if err != nil {
		panic(err)
	}
	return seal.MailboxTag(f.Pair, sender.Fingerprint(), seal.Epoch(now))
}

// one returns the only event of evs, of type E.
func one[E client.Event](t *testing.T, evs []client.Event) E {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("want one event, got %d: %#v", len(evs), evs)
	}
	e, ok := evs[0].(E)
	if !ok {
		t.Fatalf("want a %T, got %#v", *new(E), evs[0])
	}
	return e
}
