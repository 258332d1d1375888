package relayd

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
	"github.com/echorelay/echorelay/store"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// testConfig is a relay on loopback with ephemeral ports, as serve's defaults would make it.
func testConfig(t *testing.T) Config {
	dir := t.TempDir()
	return Config{Data: dir, Listen: "127.0.0.1:0", Peers: filepath.Join(dir, "peers"), Admin: "127.0.0.1:0",
		LogLevel: "info", ReadyFile: filepath.Join(dir, "ready.json"), MaxStore: 1 << 30, MailboxBytes: 64 << 20,
		MaxBlob: echo.DefaultMaxBlob, MaxTTL: echo.DefaultMaxTTL, CommitDelay: store.DefaultCommitDelay,
		Abuse: Abuse{MaxConns: peers.DefaultMaxConns, MaxConnsPerIP: peers.DefaultMaxConnsPerIP},
		Name:  "test", HistoryInterval: time.Minute, EchoTTL: peers.DefaultEchoTTL, Version: "test"}
}

// A started relay writes its ready file, answers on its admin listener with its own
// fingerprint, takes a blob from a client, reloads its peers file (a bad file keeps the old
// list and is reported), and stops when its context ends, removing the admin address file.
func TestStartRunReloadStop(t *testing.T) {
	c := testConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := Start(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var ready Ready
	testutil.Eventually(t, 10*time.Second, "the ready file", func() bool {
		b, err := os.ReadFile(c.ReadyFile)
		return err == nil && json.Unmarshal(b, &ready) == nil
	})
	if ready != r.Ready() || ready.Port == 0 || len(ready.Fingerprint) != 64 {
		t.Fatalf("ready file %+v, relay says %+v", ready, r.Ready())
	}
	status := func() admin.Status {
		t.Helper()
		body, err := admin.FetchHinted(ready.Admin, "", "test")
		if err != nil {
			t.Fatal(err)
		}
		s, err := admin.ParseStatus(body)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(); s.Fingerprint != ready.Fingerprint || s.PeersFile.Attempts != 1 {
		t.Fatalf("status: fingerprint %s, peers file %+v", s.Fingerprint, s.PeersFile)
	}
	cctx, ccancel := context.WithTimeout(ctx, testutil.Timeout(10*time.Second))
	defer ccancel()
	cl, err := peers.DialClient(cctx, ready.Listen)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := (&echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Payload: []byte("hello")}).Marshal()
	if _, _, err := cl.Put(cctx, env); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	os.WriteFile(c.Peers, []byte("127.0.0.1:1\n"), 0o644)
	r.Reload()
	if pf := status().PeersFile; pf.Attempts != 2 || pf.Neighbours != 1 || pf.Error != "" {
		t.Fatalf("after a good reload: %+v", pf)
	}
	os.WriteFile(c.Peers, []byte("not a peer line at all\n"), 0o644)
	r.Reload()
	if pf := status().PeersFile; pf.Attempts != 3 || pf.Neighbours != 1 || pf.Error == "" {
		t.Fatalf("after a bad reload: %+v", pf)
	}
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Data, admin.AddrFile)); !os.IsNotExist(err) {
		t.Fatalf("admin address file left behind: %v", err)
	}
	// The blob was acknowledged, so it is in the cache after the stop.
	st, err := store.Open(filepath.Join(c.Data, "cache.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n := st.Stats().Blobs; n != 1 {
		t.Fatalf("cache holds %d blobs after the stop, want 1", n)
	}
}

// A port another program holds stops the start with a hint naming the flag that moves that
// listener (issue #18 item 1), and nothing stays open.
func TestBusyPortHintNamesTheFlag(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	for _, tc := range []struct {
		set  func(*Config)
		flag string
	}{
		{func(c *Config) { c.Listen = addr }, "--listen"},
		{func(c *Config) { c.Admin = addr }, "--admin"},
		{func(c *Config) { c.EchoListen = "echo+tcp://" + addr }, "--echo-listen"},
	} {
		c := testConfig(t)
		tc.set(&c)
		r, err := Start(context.Background(), c, nil)
		if err == nil {
			r.close()
			t.Fatalf("%s on a busy port: started", tc.flag)
		}
		if h := hint.Of(err); !strings.Contains(h, "pick another with "+tc.flag) {
			t.Errorf("%s on a busy port: error %q, hint %q", tc.flag, err, h)
		}
	}
}

// The first-use pins are kept in DATA/known_peers: a started relay holds the file's pins, and
// a broken file stops the start with a hint, not with a relay that forgot them.
func TestKnownPeersKeptInData(t *testing.T) {
	c := testConfig(t)
	fp := strings.Repeat("ab", 32)
	k, err := peers.OpenKnownPeers(filepath.Join(c.Data, peers.KnownPeersName))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Accept("127.0.0.1:9", fp, time.Now()); err != nil {
		t.Fatal(err)
	}
	r, err := Start(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := r.node.KnownPeers().Key("127.0.0.1:9")
	r.node.Close()
	r.close()
	if got != fp {
		t.Fatalf("the started relay pins 127.0.0.1:9 to %q, want %s", got, fp)
	}
	os.WriteFile(filepath.Join(c.Data, peers.KnownPeersName), []byte("not a pin line\n"), 0o600)
	if r, err := Start(context.Background(), c, nil); err == nil || !strings.Contains(hint.Of(err), "trust --list") {
		if r != nil {
			r.node.Close()
			r.close()
		}
		t.Fatalf("a broken known_peers file: %v (hint %q)", err, hint.Of(err))
	}
}
