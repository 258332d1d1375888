package main

import (
	"strings"
	"testing"
)

// check says what it verified, and warns when the relay is running (issue #18 item 12).
func TestCheckSaysWhatItChecked(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "a")
	if _, errOut, code := runCLI(t, []byte("hello"), "put", "--relay", r.addr(), "--ttl", "1h"); code != 0 {
		t.Fatalf("put: %s", errOut)
	}
	r.waitFor("the blob in the cache", func(s statusDoc) bool { return s.Cache.Blobs == 1 })
	out, errOut, code := runCLI(t, nil, "check", "--data", r.dir)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "passed SQLite's integrity check") {
		t.Fatalf("check of a running relay (exit %d): %s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "is running") {
		t.Fatalf("check of a running relay does not say it runs: %q", errOut)
	}
	r.stop()
	out, errOut, code = runCLI(t, nil, "check", "--data", r.dir)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || strings.Contains(errOut, "is running") {
		t.Fatalf("check of a stopped relay (exit %d): %s%s", code, out, errOut)
	}
}
