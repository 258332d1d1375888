package peers

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// The record of first-use pins survives a reopen, changes through Accept and Forget, refuses a
// broken file with its line number and never overwrites one, and leaves no temporary files.
func TestKnownPeersFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, KnownPeersName)
	k, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	fp1, fp2 := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	if pinned, first, err := k.pinFirst("relay.lan:7443", fp1, now); err != nil || !first || pinned != fp1 {
		t.Fatalf("first pin: %q %v %v", pinned, first, err)
	}
	if pinned, first, err := k.pinFirst("relay.lan:7443", fp2, now); err != nil || first || pinned != fp1 {
		t.Fatalf("a second key replaced the first: %q %v %v", pinned, first, err)
	}
	if err := k.Accept("10.0.0.2:7443", "SHA256:"+strings.ToUpper(fp2), now); err != nil {
		t.Fatal(err)
	}
	k2, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := k2.List(); len(got) != 2 || got[0] != (KnownPeer{"10.0.0.2:7443", fp2, now}) || got[1] != (KnownPeer{"relay.lan:7443", fp1, now}) {
		t.Fatalf("reopened: %+v", got)
	}
	// Another process (`echorelay trust`) changes the file; an update here keeps its change.
	if err := k2.Accept("relay.lan:7443", fp2, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.pinFirst("other:1", fp1, now); err != nil {
		t.Fatal(err)
	}
	if k.Key("relay.lan:7443") != fp2 || k.Key("other:1") != fp1 {
		t.Fatalf("an update lost another writer's change: %+v", k.List())
	}
	if ok, err := k.Forget("relay.lan:7443"); !ok || err != nil {
		t.Fatalf("forget: %v %v", ok, err)
	}
	if ok, _ := k.Forget("relay.lan:7443"); ok {
		t.Fatal("forgot a pin twice")
	}
	if err := k.Accept("no port", fp1, now); err == nil {
		t.Fatal("accepted an address without a port")
	}
	if err := k.Accept("a:1", "abcd", now); err == nil {
		t.Fatal("accepted a short fingerprint")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("files left beside the record: %v", ents)
	}

	for _, tc := range []struct{ text, want string }{
		{"a:1 " + fp1 + "\n", "line 1: want `HOST:PORT FINGERPRINT SINCE`"},
		{"# c\na:1 xyz 2026-12-02T06:00:00Z\n", "line 2: fingerprint must be 64 hex characters"},
		{"a " + fp1 + " 2026-12-02T06:00:00Z\n", `line 1: "a" is not host:port`},
		{"a:1 " + fp1 + " yesterday\n", "not an RFC 3339 time"},
		{"a:1 " + fp1 + " 2026-12-02T06:00:00Z\na:1 " + fp2 + " 2026-12-02T06:00:00Z\n", "line 2: a:1 is pinned twice"},
	} {
		bad := filepath.Join(t.TempDir(), KnownPeersName)
		os.WriteFile(bad, []byte(tc.text), 0o644)
		if _, err := OpenKnownPeers(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error saying %q", tc.text, err, tc.want)
		}
	}
	// A record whose file was broken after it was read keeps working in memory and leaves
	// the file as it is.
	os.WriteFile(path, []byte("broken\n"), 0o644)
	if _, _, err := k.pinFirst("new:2", fp2, now); err == nil {
		t.Fatal("no error for a broken file")
	}
	if b, _ := os.ReadFile(path); string(b) != "broken\n" {
		t.Fatalf("a broken file was overwritten: %q", b)
	}
	if k.Key("new:2") != fp2 {
		t.Fatal("the pin was not kept in memory")
	}
}

// Pin on first use (issue #15 item 3): the first key an unpinned line presents is written to
// the record; after a restart the line is that key, recognised from any address before any
// dial; a relay answering the line with another key is refused, counted as key_changed and
// named in one warning with both fingerprints; accepting the new key (what `echorelay trust`
// does) and a reload link it.
func TestPinOnFirstUse(t *testing.T) {
	t.Parallel()
	known := filepath.Join(t.TempDir(), KnownPeersName)
	var logs testutil.Buffer
	a := startTestNode(t, Config{KnownPeersFile: known, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, store.Options{}, echo.Limits{})
	b := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	line := "127.0.0.1:" + itoa(b.Port())
	a.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: line}})
	waitCount(t, "A's neighbours", 1, func() int64 { return int64(a.relay.Snapshot().Neighbours) })
	b2, err := os.ReadFile(known)
	if err != nil || !strings.Contains(string(b2), line+" "+b.Fingerprint()+" ") {
		t.Fatalf("the record after the first dial: %q, %v; want %s pinned to %s", b2, err, line, b.Fingerprint())
	}
	if ns := a.Neighbours(); len(ns) != 1 || ns[0].PeerFP != b.Fingerprint() {
		t.Fatalf("status: %+v", ns)
	}

	// A restarted relay knows the key from the record before dialing.
	a2 := startTestNode(t, Config{KnownPeersFile: known}, store.Options{}, echo.Limits{})
	a2.mu.Lock()
	a2.peers = []Peer{{Scheme: SchemeQUIC, Addr: line}} // listed, no dialer started
	a2.mu.Unlock()
	elsewhere := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4242}
	if !a2.isNeighbour(b.Fingerprint(), elsewhere, 4242) || a2.isNeighbour(a.Fingerprint(), elsewhere, 4242) {
		t.Fatal("after a restart the line is not its first key")
	}

	// Another relay answers at the line's address: the record says the line is B's.
	c := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	cline := "127.0.0.1:" + itoa(c.Port())
	if err := a.KnownPeers().Accept(cline, b.Fingerprint(), time.Now()); err != nil {
		t.Fatal(err)
	}
	a.SetPeers([]Peer{{Scheme: SchemeTLS, Addr: cline}})
	a.waitClose(t, "key_changed", 1)
	if n := a.relay.Snapshot().Neighbours; n != 0 {
		t.Fatalf("A linked to a changed key: %d neighbours", n)
	}
	warn := ""
	testutil.Eventually(t, 10*time.Second, "the warning", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "REFUSED") {
				warn = l
				return true
			}
		}
		return false
	})
	for _, want := range []string{"level=WARN", "tls://" + cline, "pinned=" + b.Fingerprint(), "presented=" + c.Fingerprint(), "echorelay trust " + cline + " " + c.Fingerprint()} {
		if !strings.Contains(warn, want) {
			t.Errorf("warning %q does not say %q", warn, want)
		}
	}
	if err := a.KnownPeers().Accept(cline, c.Fingerprint(), time.Now()); err != nil {
		t.Fatal(err)
	}
	a.SetPeers([]Peer{{Scheme: SchemeTLS, Addr: cline}}) // a reload re-reads the record
	waitCount(t, "A's neighbours after trust", 1, func() int64 { return int64(a.relay.Snapshot().Neighbours) })
	if got := strings.Count(logs.String(), "REFUSED"); got != 1 {
		t.Errorf("%d warnings for one line within a minute, want 1", got)
	}
}

// An inbound relay that cannot prove it is a listed neighbour is a client (issue #15 item 3):
// calling from the address of an unpinned line and claiming its port, it is served with the
// client limits (stamps) and its floods end the link as not_neighbour, none stored; claiming a
// line pinned on first use to another key, it is refused as key_changed. Before, both were
// admitted as the neighbour and all their floods stored.
func TestImpostorIsAClient(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{StampBits: 8}, store.Options{}, echo.Limits{})
	// Port 9 (discard) on loopback: nothing answers the node's dials, so nothing proves a key.
	tn.SetPeers([]Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:9"}})
	imp, err := NewEphemeralIdentity()
	if err != nil {
		t.Fatal(err)
	}
	rc := rawDial(t, tn, SchemeTLS, imp)
	rc.hello(echo.RoleRelay) // claims listen port 9, from 127.0.0.1
	rc.writeFrame(echo.Submit{Req: 1, Envelope: mkEnv(t, time.Now().Add(time.Hour), 100)}.Frame())
	rc.s.setDeadline(true, time.Now().Add(testutil.Timeout(10*time.Second)))
	for {
		f, err := echo.ReadFrame(rc.r, 1<<20)
		if err != nil {
			t.Fatalf("no answer to the impostor's SUBMIT: %v", err)
		}
		if f.Type == echo.FrameAck {
			t.Fatal("an unstamped SUBMIT from the impostor was stored: it is not under client limits")
		}
		if f.Type == echo.FrameError {
			if e, _ := echo.ParseErrorFrame(f.Body); e.Err.Code != echo.CodeStampRequired {
				t.Fatalf("impostor's SUBMIT: %v, want stamp_required", e.Err)
			}
			break
		}
	}
	// One flood: the node ends the link at it, and a write after that could meet a reset that
	// discards the ERROR before it is read.
	rc.writeFrame(echo.Frame{Type: echo.FrameBlob, Body: mkEnv(t, time.Now().Add(time.Hour), 100)})
	if e := linkError(rc.drain(testutil.Timeout(10 * time.Second))); e == nil || e.Code != echo.CodeNotNeighbour {
		t.Fatalf("impostor's floods: %v, want not_neighbour", e)
	}
	if s := tn.relay.Snapshot(); s.Stored != 0 || s.Neighbours != 0 {
		t.Fatalf("stored %d, neighbours %d: the impostor was a neighbour", s.Stored, s.Neighbours)
	}

	// The line pinned on first use to another key: refused at HELLO, counted.
	real, _ := NewEphemeralIdentity()
	if err := tn.KnownPeers().Accept("127.0.0.1:9", real.Fingerprint, time.Now()); err != nil {
		t.Fatal(err)
	}
	rc = rawDial(t, tn, SchemeQUIC, imp)
	rc.hello(echo.RoleRelay)
	e := linkError(rc.drain(testutil.Timeout(10 * time.Second)))
	if e == nil || e.Code != echo.CodeNotNeighbour || !strings.Contains(e.Msg, "not the one its line is pinned to") {
		t.Fatalf("impostor against a pinned line: %v", e)
	}
	tn.waitClose(t, "key_changed", 1)
	// The real key is the neighbour, from whatever address.
	if !tn.isNeighbour(real.Fingerprint, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}, 1) {
		t.Fatal("the pinned key is not the neighbour")
	}
}

// A relay calling from the address of an unpinned line whose key is not known yet is served as
// a client and makes the node dial that line back at once (the dial is what proves, and pins,
// the key); a relay that claims a pinned line's port, or a line on another address, does not.
func TestDialBack(t *testing.T) {
	t.Parallel()
	tn := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	lines := []Peer{{Scheme: SchemeQUIC, Addr: "127.0.0.1:7443"}, {Scheme: SchemeTLS, Addr: "127.0.0.1:7444", Pin: strings.Repeat("ab", 32)},
		{Scheme: SchemeQUIC, Addr: "192.0.2.9:7445"}}
	kicks := make([]chan struct{}, len(lines))
	tn.mu.Lock()
	tn.peers = lines
	for i, p := range lines { // dialers that do not run: their kick channels show a dial back
		kicks[i] = make(chan struct{}, 1)
		tn.dialers[p.Key()] = &dialer{n: tn.Node, p: p, kick: kicks[i], cancel: func() {}}
	}
	tn.mu.Unlock()
	from := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
	fp := strings.Repeat("cd", 32)
	for i, port := range []uint16{7443, 7444, 7445, 7446} {
		ok, err := tn.admitInbound(fp, from, port)
		if ok || err != nil {
			t.Fatalf("port %d: admitted %v, %v; want a client", port, ok, err)
		}
		for j, k := range kicks {
			select {
			case <-k:
				if i != 0 || j != 0 {
					t.Errorf("a relay claiming port %d made line %s dial back", port, lines[j])
				}
			default:
				if i == 0 && j == 0 {
					t.Error("a relay claiming an unpinned line of its address made no dial back")
				}
			}
		}
	}
}

// The warning of a changed key is said once a minute per line.
func TestLogEveryKey(t *testing.T) {
	var e logEveryKey
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	if !e.allow("a", now) || e.allow("a", now.Add(59*time.Second)) || !e.allow("b", now) || !e.allow("a", now.Add(time.Minute)) {
		t.Fatal("not once a minute per key")
	}
}

// The record's parser never panics, keeps what it accepts well formed, and what it writes
// back parses to the same record.
func FuzzKnownPeers(f *testing.F) {
	files, _ := filepath.Glob("testdata/known_peers/*.txt")
	if len(files) == 0 {
		f.Fatal("no seed files in testdata/known_peers")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseKnown(bytes.NewReader(b))
		if err != nil {
			return
		}
		for a, p := range m {
			if p.Addr != a || checkKnownAddr(a) != nil || len(p.Fingerprint) != 64 || strings.ToLower(p.Fingerprint) != p.Fingerprint {
				t.Fatalf("accepted %+v", p)
			}
		}
		again, err := parseKnown(bytes.NewReader(marshalKnown(m)))
		if err != nil {
			t.Fatalf("what it wrote does not parse: %v", err)
		}
		if len(again) != len(m) {
			t.Fatalf("round trip: %d pins, want %d", len(again), len(m))
		}
		for a, p := range m {
			if q := again[a]; q.Fingerprint != p.Fingerprint || !q.Since.Equal(p.Since.Truncate(time.Second)) {
				t.Fatalf("round trip of %s: %+v, want %+v", a, q, p)
			}
		}
	})
}
