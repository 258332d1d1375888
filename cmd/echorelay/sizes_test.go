package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A payload of exactly --max-blob does not fit, because the limit covers the envelope's header
// too; the refusal says so and names the largest payload that fits, and that one is taken
// (issue #18 item 8).
func TestTooLargeNamesTheLargestPayload(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "a", "--max-blob", "65536")
	_, errOut, code := runCLI(t, bytes.Repeat([]byte("x"), 65536), "put", "--relay", r.addr(), "--ttl", "1h")
	m := regexp.MustCompile(`\((\d+) of payload \+ (\d+) of envelope header\), the relay takes at most 65536: at most (\d+) bytes of payload`).FindStringSubmatch(errOut)
	if code == 0 || m == nil {
		t.Fatalf("put of 65536 payload bytes (exit %d): %s", code, errOut)
	}
	fits, _ := strconv.Atoi(m[3])
	if head, _ := strconv.Atoi(m[2]); m[1] != "65536" || fits != 65536-head || head <= 0 {
		t.Fatalf("inconsistent sizes in %q", m[0])
	}
	out, errOut, code := runCLI(t, bytes.Repeat([]byte("x"), fits), "put", "--relay", r.addr(), "--ttl", "1h")
	if code != 0 || len(strings.TrimSpace(out)) == 0 {
		t.Fatalf("put of the %d payload bytes the error named (exit %d): %s", fits, code, errOut)
	}
	if _, errOut, code := runCLI(t, bytes.Repeat([]byte("x"), fits+1), "put", "--relay", r.addr(), "--ttl", "1h"); code == 0 {
		t.Fatalf("put of %d bytes, one more than fits, was taken: %s", fits+1, errOut)
	}
}
