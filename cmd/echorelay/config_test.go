package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/config"
	"github.com/echorelay/echorelay/internal/relayd"
)

// load runs the real serve option table on args with the given config file text (none if "").
func load(t *testing.T, conf string, args ...string) (serveConfig, *flag.FlagSet, config.Sources, error) {
	t.Helper()
	dir := t.TempDir()
	if conf != "" {
		if err := os.WriteFile(filepath.Join(dir, relayd.ConfigFileName), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return loadServeConfig(append([]string{"--data", dir}, args...))
}

func TestConfigPrecedence(t *testing.T) {
	c, _, src, err := load(t, "max-store = 5000000\nmax-blob = 4096\nno-tcp = true\nname = \"room 4\"\nmax-ttl = 48h\n", "--max-blob", "8192")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxStore != 5000000 || c.MaxBlob != 8192 || !c.NoTCP || c.Name != "room 4" || c.MaxTTL != 48*time.Hour {
		t.Fatalf("effective config %+v: want the file's values except the flag's max-blob", c)
	}
	if c.MailboxBytes != 5000000 || c.Admin != DefaultAdmin || c.HistoryInterval != time.Minute {
		t.Fatalf("defaults lost: %+v", c)
	}
	if src.Of("max-blob") != "flag --max-blob" || !strings.HasSuffix(src.Of("max-store"), relayd.ConfigFileName+":1") || src.Of("listen") != "default" {
		t.Errorf("sources: %+v", src.From)
	}
	if c.Peers != filepath.Join(c.Data, "peers") {
		t.Errorf("peers %q", c.Peers)
	}

	// --config elsewhere; it may move the data dir.
	other := filepath.Join(t.TempDir(), "relay.conf")
	moved := t.TempDir()
	os.WriteFile(other, []byte("data = "+moved+"\n"), 0o644)
	c, _, _, err = loadServeConfig([]string{"--config", other})
	if err != nil || c.Data != moved || c.Peers != filepath.Join(moved, "peers") {
		t.Fatalf("--config: %v, data %q peers %q", err, c.Data, c.Peers)
	}
	// A missing --config file is an error; a missing DATA/echorelay.conf is not.
	if _, _, _, err := loadServeConfig([]string{"--config", filepath.Join(t.TempDir(), "nope.conf")}); err == nil || !strings.Contains(err.Error(), "failed to open config file") {
		t.Errorf("missing --config: %v", err)
	}
	if _, _, src, err := load(t, ""); err != nil || src.File != "" {
		t.Errorf("no file: %v %+v", err, src)
	}
}

// Every bad value is refused with the key, the value and the accepted range; nothing starts.
func TestConfigRefusesBadValues(t *testing.T) {
	for _, c := range []struct {
		conf string
		args []string
		want string
	}{
		{"", []string{"--max-blob", "5"}, "max-blob = 5: must be between 1024 and 67108864"},
		{"max-blob = 5\n", nil, "max-blob = 5: must be between 1024 and 67108864"},
		{"max-ttl = 30s\n", nil, "max-ttl = 30s: must be a duration between 1m and 8760h"},
		{"max-store = 10\n", nil, "max-store = 10: must be between 4096 and 1125899906842624"},
		{"mailbox-quota = 99999999999\n", nil, "mailbox-quota = 99999999999: must be between 1024 and max-store (1073741824)"},
		{"log-level = loud\n", nil, "log-level = loud: must be one of debug, info, warn, error"},
		{"listen = 7788\n", nil, "listen = 7788: must be HOST:PORT with a port from 0 to 65535"},
		{"admin = 127.0.0.1:99999\n", nil, `admin = 127.0.0.1:99999: must be HOST:PORT with a port from 0 to 65535, or "off"`},
		{"admin-token = short\n", nil, "admin-token = (hidden): must be between 16 and 256"},
		{"history-interval = 1h\n", nil, "history-interval = 1h0m0s: must be a duration between 1s and 10m"},
		{"name = \"a\\nb\"\n", nil, "name = a\nb: must be at most 64 characters on one line"},
		{"max-blob = lots\n", nil, ":1: max-blob = lots: not a whole number"},
		{"max-ttl = 3 days\n", nil, ":1: max-ttl = 3 days: not a duration"},
		{"no-tcp = maybe\n", nil, ":1: no-tcp = maybe: not true or false"},
		{"max-stor = 5\n", nil, `:1: unknown key "max-stor"`},
		{"print-config = true\n", nil, `:1: unknown key "print-config"`},
		{"data = /elsewhere\n", nil, ":1: data cannot be set in the config file inside the data directory"},
		{"", []string{"--admin", "0.0.0.0:7789"}, "admin = 0.0.0.0:7789 would show the status page to the network"},
		{"admin = :7789\n", nil, "admin = :7789 would show the status page to the network"},
	} {
		_, _, _, err := load(t, c.conf, c.args...)
		var ue *usageError
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ue) || ue.Hint == "" {
			t.Errorf("%q %v: err %v, want a usage error with %q and a hint", c.conf, c.args, err, c.want)
		}
	}
	// Loopback needs no --admin-lan; a LAN address with it is accepted.
	for _, args := range [][]string{{"--admin", "localhost:0"}, {"--admin", "[::1]:7789"}, {"--admin", "off"}, {"--admin", "0.0.0.0:7789", "--admin-lan"}} {
		if _, _, _, err := load(t, "", args...); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// --print-config writes the file format: reading it back gives the same configuration, and
// the token is never printed.
func TestPrintConfigRoundTrip(t *testing.T) {
	c1, fs, src, err := load(t, "name = \"room #4\"\nmax-blob = 4096\nadmin-token = 0123456789abcdef0123\n", "--max-ttl", "2h", "--no-tcp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	relayd.PrintConfig(&out, fs, src, version)
	text := out.String()
	if strings.Contains(text, "0123456789abcdef0123") {
		t.Fatalf("the token is printed:\n%s", text)
	}
	for _, want := range []string{`name = "room #4"`, "max-ttl = 2h0m0s", "# flag --max-ttl", "no-tcp = true", "# admin-token is set"} {
		if !strings.Contains(text, want) {
			t.Errorf("print-config lacks %q:\n%s", want, text)
		}
	}
	conf := filepath.Join(t.TempDir(), "printed.conf")
	os.WriteFile(conf, out.Bytes(), 0o644)
	c2, _, _, err := loadServeConfig([]string{"--config", conf})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, text)
	}
	c1.AdminToken, c1.ConfigFile, c2.ConfigFile = "", "", ""
	if c1 != c2 {
		t.Fatalf("round trip changed the config:\n%+v\n%+v", c1, c2)
	}
}

// The commented example documents every key, and its values are valid.
func TestConfigExampleDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../rpi/echorelay.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	var c serveConfig
	fs := serveFlags(&c)
	keyLine := regexp.MustCompile(`(?m)^# ?([a-z0-9-]+) = (.*)$`)
	documented := map[string]bool{}
	var uncommented strings.Builder
	for _, m := range keyLine.FindAllStringSubmatch(string(b), -1) {
		if fs.Lookup(m[1]) == nil {
			t.Errorf("the example documents %q, which is not a flag of serve", m[1])
		}
		documented[m[1]] = true
		if m[1] != "data" && m[1] != "peers" && m[1] != "ready-file" {
			uncommented.WriteString(m[1] + " = " + m[2] + "\n")
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !relayd.ConfigRules.NotInFile[f.Name] && !documented[f.Name] {
			t.Errorf("rpi/echorelay.conf.example does not document the key %q: add a commented `# %s = default` line with a sentence on what it does", f.Name, f.Name)
		}
	})
	if len(documented) < 10 {
		t.Fatalf("only %d keys found in the example", len(documented))
	}
	if _, _, _, err := load(t, uncommented.String()); err != nil {
		t.Errorf("the example's values, uncommented, are refused: %v\n%s", err, uncommented.String())
	}
}
