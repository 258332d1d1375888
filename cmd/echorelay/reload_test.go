package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `echorelay reload` re-reads the peers file of its data directory's relay and says what came
// of it; a broken file is reported there, on the status page's verdict and in `status`, and the
// old list stays (issue #18 item 7).
func TestReloadReportsThePeersFile(t *testing.T) {
	t.Parallel()
	a := startRelay(t, "a")
	b := startRelay(t, "b")
	peersFile := filepath.Join(a.dir, "peers")

	if err := os.WriteFile(peersFile, []byte(b.addr()+" "+b.fp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, nil, "reload", "--data", a.dir)
	if code != 0 || !strings.Contains(out, "reloaded: 1 neighbour\n") {
		t.Fatalf("reload of a good file (exit %d): %s%s", code, out, errOut)
	}

	if err := os.WriteFile(peersFile, []byte("this is not host:port\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, nil, "reload", "--data", a.dir)
	if code == 0 || !strings.Contains(errOut, "not applied") || !strings.Contains(errOut, "keeps the neighbours it had") {
		t.Fatalf("reload of a broken file (exit %d): %s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, nil, "status", "--data", a.dir)
	if code != 0 || !strings.Contains(out, "Peers file not applied") {
		t.Fatalf("status after a broken reload does not say so (exit %d): %s%s", code, out, errOut)
	}
	// The old list is kept: b is still a configured neighbour.
	var doc statusDoc
	a.statusInto(&doc)
	if len(doc.Neighbours) != 1 {
		t.Fatalf("after a broken reload the relay has %d neighbours, want the 1 it had", len(doc.Neighbours))
	}

	if err := os.WriteFile(peersFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runCLI(t, nil, "reload", "--data", a.dir); code != 0 || !strings.Contains(out, "reloaded: 0 neighbours") {
		t.Fatalf("reload of an empty file (exit %d): %s%s", code, out, errOut)
	}
	if out, _, _ := runCLI(t, nil, "status", "--data", a.dir); strings.Contains(out, "Peers file not applied") {
		t.Fatalf("status still reports the fixed file:\n%s", out)
	}
}
