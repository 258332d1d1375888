package relayd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/internal/testutil"
)

// loadArgs parses args into a few of serve's keys, as cmd/echorelay's serveFlags would, and
// runs LoadConfig with the --config value path.
func loadArgs(t *testing.T, data, path string, args ...string) (Config, string, error) {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Data, "data", data, "")
	fs.StringVar(&c.Peers, "peers", "", "")
	fs.StringVar(&c.Admin, "admin", "127.0.0.1:7789", "")
	fs.BoolVar(&c.AdminLAN, "admin-lan", false, "")
	fs.StringVar(&c.AdminToken, "admin-token", "", "")
	fs.Int64Var(&c.MaxStore, "max-store", 1<<30, "")
	fs.Int64Var(&c.MailboxBytes, "mailbox-quota", 64<<20, "")
	fs.IntVar(&c.Abuse.MaxConns, "max-conns", 100, "")
	fs.String("config", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	src, err := LoadConfig(fs, &c, path)
	return c, src.Of("max-store") + " " + src.Of("mailbox-quota"), err
}

// LoadConfig: the file in DATA fills what the flags leave, flags win, the peers file defaults
// to DATA/peers, and the default mailbox quota shrinks to a small cache but a given one does
// not (it is refused with where it came from).
func TestLoadConfigFileAndDefaults(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, ConfigFileName), []byte("max-store = 100000\nmax-conns = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, from, err := loadArgs(t, data, "", "--max-conns", "9")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxStore != 100000 || c.MailboxBytes != 100000 || c.Abuse.MaxConns != 9 || c.Peers != filepath.Join(data, "peers") {
		t.Fatalf("loaded %+v", c)
	}
	if want := filepath.Join(data, ConfigFileName) + ":1 default"; from != want {
		t.Fatalf("sources %q, want %q", from, want)
	}
	_, _, err = loadArgs(t, data, "", "--mailbox-quota", "200000")
	if err == nil || !strings.Contains(err.Error(), "mailbox-quota = 200000: must be between 1024 and max-store (100000)") ||
		!strings.Contains(hint.Of(err), "flag --mailbox-quota") {
		t.Fatalf("a quota above the cache: %v (hint %q)", err, hint.Of(err))
	}
	// Without a file in DATA the defaults stand; a --config file that is missing is an error.
	empty := t.TempDir()
	if c, _, err := loadArgs(t, empty, "", "--peers", "/etc/p"); err != nil || c.MaxStore != 1<<30 || c.MailboxBytes != 64<<20 || c.Peers != "/etc/p" {
		t.Fatalf("no config file: %+v, %v", c, err)
	}
	if _, _, err := loadArgs(t, empty, filepath.Join(empty, "nope.conf")); err == nil || !strings.Contains(err.Error(), "failed to open config file") {
		t.Fatalf("a missing --config file: %v", err)
	}
}

// LoadConfig refuses an argument, a status page on the network without --admin-lan, and a
// config file in DATA that moves the data dir; each with a hint.
func TestLoadConfigRefuses(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		file string
		args []string
		want string
	}{
		{"", []string{"extra"}, `unexpected argument "extra"`},
		{"", []string{"--admin", "0.0.0.0:7789"}, "would show the status page to the network"},
		{"data = /elsewhere\n", nil, "data cannot be set in the config file inside the data directory"},
		{"admin-token = short\n", nil, "admin-token = (hidden): must be"},
	} {
		os.WriteFile(filepath.Join(data, ConfigFileName), []byte(tc.file), 0o644)
		_, _, err := loadArgs(t, data, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || hint.Of(err) == "" {
			t.Errorf("%q %q: %v (hint %q), want %q", tc.file, tc.args, err, hint.Of(err), tc.want)
		}
	}
	os.Remove(filepath.Join(data, ConfigFileName))
	if _, _, err := loadArgs(t, data, "", "--admin", "0.0.0.0:7789", "--admin-lan"); err != nil {
		t.Errorf("--admin-lan: %v", err)
	}
}

// Serve acts on its signals: a reload re-reads the peers file and a reconcile asks the node,
// until its context ends; a relay that cannot start returns the error at once.
func TestServeSignals(t *testing.T) {
	c := testConfig(t)
	var logs testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload, reconcile := make(chan os.Signal), make(chan os.Signal)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, c, log, Signals{Reload: reload, Reconcile: reconcile}) }()
	testutil.Eventually(t, 10*time.Second, "the ready file", func() bool { _, err := os.Stat(c.ReadyFile); return err == nil })
	os.WriteFile(c.Peers, []byte("127.0.0.1:1\n127.0.0.1:2\n"), 0o644)
	reload <- os.Interrupt // any value: the channel is the request
	reconcile <- os.Interrupt
	testutil.Eventually(t, 10*time.Second, "the reload and the reconciliation in the log", func() bool {
		s := logs.String()
		return strings.Contains(s, `msg="peers file reloaded" neighbours=2`) && strings.Contains(s, "reconciling with neighbours now")
	})
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	c.Data = filepath.Join(c.Data, "ready.json") // a file: the cache cannot be opened
	if err := Serve(context.Background(), c, nil, Signals{}); err == nil {
		t.Fatal("Serve of a relay that cannot start returned no error")
	}
}

// The Echo lines' backlog positions live in DATA (peers.Config.EchoStateDir): a dialled Full
// Echo line reads its position file there, and a broken one is logged, not ignored. The file
// name is peers' (echo-position- and 8 bytes of the SHA-256 of the line's scheme and address).
func TestEchoPositionsKeptInData(t *testing.T) {
	c := testConfig(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() { // the "Echo relay": accepts and holds the connections until the test ends
		defer close(conns)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- conn
		}
	}()
	defer func() {
		ln.Close()
		for conn := range conns {
			conn.Close()
		}
	}()
	line := "echo+tcp://" + ln.Addr().String()
	h := sha256.Sum256([]byte(line))
	if err := os.WriteFile(filepath.Join(c.Data, "echo-position-"+hex.EncodeToString(h[:8])), []byte("not a position\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Peers, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs testutil.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, c, slog.New(slog.NewTextHandler(&logs, nil)), Signals{}) }()
	testutil.Eventually(t, 20*time.Second, "the broken position file in DATA to be read", func() bool {
		return strings.Contains(logs.String(), "echo backlog position unreadable")
	})
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
}
