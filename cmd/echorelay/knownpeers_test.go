package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `echorelay trust` pins a new key for a line, lists the pins, forgets one, and refuses a bad
// fingerprint or a line without a pin with a hint, leaving the record as it was.
func TestTrustCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fp := strings.Repeat("ab", 32)
	run := func(args ...string) (string, error) {
		out, err := relayCommand(append([]string{"trust", "--data", dir}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("relay.lan:7788", "SHA256:"+strings.ToUpper(fp)); err != nil || !strings.Contains(out, "relay.lan:7788 is pinned to "+fp) || !strings.Contains(out, "echorelay reload") {
		t.Fatalf("trust: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "known_peers"))
	if err != nil || !strings.Contains(string(b), "relay.lan:7788 "+fp+" ") {
		t.Fatalf("known_peers: %q %v", b, err)
	}
	if out, err := run("--list"); err != nil || !strings.HasPrefix(out, "relay.lan:7788  "+fp+"  since ") {
		t.Fatalf("--list: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{"relay.lan:7788", "abcd"}, {"relay.lan", fp}, {"relay.lan:7788"}, {"--forget", "other:1"}} {
		out, err := run(bad...)
		if err == nil || !strings.HasPrefix(out, "echorelay: ") || !strings.Contains(out, "\nhint: ") {
			t.Errorf("trust %v: %v\n%s", bad, err, out)
		}
	}
	if b2, _ := os.ReadFile(filepath.Join(dir, "known_peers")); string(b2) != string(b) {
		t.Fatalf("a refused command changed the record:\n%s", b2)
	}
	if out, err := run("--forget", "relay.lan:7788"); err != nil || !strings.Contains(out, "forgot the key of relay.lan:7788") {
		t.Fatalf("--forget: %v\n%s", err, out)
	}
	if out, err := run("--list"); err != nil || out != "" {
		t.Fatalf("--list after --forget: %v\n%q", err, out)
	}
}
