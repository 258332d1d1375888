package main

import (
	"net"
	"strings"
	"testing"
)

// deadAddr is a loopback address where nothing listens: a port the OS gave out and took back.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A client command against an address where nothing listens says so plainly (TCP refused, no
// QUIC answer) instead of "context deadline exceeded" or "no recent network activity", and
// `inbox` does not claim "no new messages" from a relay it could not read (issue #18 items 9, 10).
func TestDeadRelayAnswersPlainly(t *testing.T) {
	t.Parallel()
	dead := deadAddr(t)
	for _, args := range [][]string{
		{"get", "--relay", dead},
		{"put", "--relay", dead},
	} {
		_, errOut, code := runCLI(t, []byte("x"), args...)
		if code == 0 || !strings.Contains(errOut, "nothing listens there") || !strings.Contains(errOut, "is echorelay running there?") {
			t.Errorf("echorelay %s (exit %d): %s", strings.Join(args, " "), code, errOut)
		}
		if strings.Contains(errOut, "deadline exceeded") || strings.Contains(errOut, "no recent network activity") {
			t.Errorf("echorelay %s waited for a timeout: %s", strings.Join(args, " "), errOut)
		}
	}

	home := t.TempDir()
	cli(t, nil, "id", "new", "--home", home, "--kem", "mceliece348864f")
	_, errOut, code := runCLI(t, nil, "inbox", "--home", home, "--all", "--relay", dead)
	if code == 0 || !strings.Contains(errOut, "could not read "+dead) || strings.Contains(errOut, "no new messages") {
		t.Fatalf("inbox against a dead relay (exit %d): %s", code, errOut)
	}
}
