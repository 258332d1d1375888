package main

import (
	"strings"
	"testing"
)

// `status --data B` never shows another relay: with B stopped it says so, and an explicit
// --admin that reaches another relay is refused (issue #18 item 3). `fingerprint` prints the
// whole key and a ready peers-file line (item 4).
func TestStatusIsTheRelayOfItsDataDir(t *testing.T) {
	t.Parallel()
	a := startRelay(t, "a")
	b := startRelay(t, "b")

	out, errOut, code := runCLI(t, nil, "fingerprint", "--data", a.dir, "--port", "7788")
	if code != 0 || !strings.Contains(out, "fingerprint: "+a.fp+"\n") || len(a.fp) != 64 {
		t.Fatalf("fingerprint of a (exit %d): %s%s", code, out, errOut)
	}
	if !strings.Contains(out, ":7788  "+a.fp) {
		t.Fatalf("fingerprint prints no peers-file line:\n%s", out)
	}

	out, errOut, code = runCLI(t, nil, "status", "--data", a.dir)
	if code != 0 || !strings.Contains(out, "key "+a.fp[:16]) {
		t.Fatalf("status of running a (exit %d): %s%s", code, out, errOut)
	}

	b.stop()
	out, errOut, code = runCLI(t, nil, "status", "--data", b.dir)
	if code == 0 || !strings.Contains(errOut, "the relay of "+b.dir+" is not running") || strings.Contains(out, "running for") {
		t.Fatalf("status of stopped b (exit %d):\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, nil, "status", "--data", b.dir, "--admin", a.admin)
	if code == 0 || !strings.Contains(errOut, "is not the relay of "+b.dir) || strings.Contains(out, "running for") {
		t.Fatalf("status of b at a's address (exit %d):\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	empty := t.TempDir()
	if _, errOut, code := runCLI(t, nil, "fingerprint", "--data", empty); code == 0 || !strings.Contains(errOut, "no node key") {
		t.Fatalf("fingerprint of an empty dir (exit %d): %s", code, errOut)
	}
}
