package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
)

// Without a token the status page answers only requests addressed to the loopback interface:
// a DNS-rebinding page (Host: attacker.example, resolving to 127.0.0.1) gets nothing (issue #15
// item 5).
func TestStatusPageRefusesForeignHost(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "a")
	_, port, _ := net.SplitHostPort(r.admin)
	ask := func(host string) (string, string) {
		t.Helper()
		c, err := net.DialTimeout("tcp", r.admin, testutil.Timeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testutil.Timeout(10 * time.Second)))
		fmt.Fprintf(c, "GET /status HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
		b, err := io.ReadAll(bufio.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := strings.Cut(string(b), "\r\n\r\n")
		status, _, _ := strings.Cut(head, "\r\n")
		return status, body
	}
	for _, h := range []string{"attacker.example", "attacker.example:" + port, "192.0.2.1:" + port, "127.0.0.1.attacker.example"} {
		status, body := ask(h)
		if !strings.Contains(status, " 421 ") || strings.Contains(body, r.fp) {
			t.Errorf("Host %s: %s\n%s", h, status, body)
		}
	}
	for _, h := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "127.0.0.1"} {
		if status, body := ask(h); !strings.Contains(status, " 200 ") || !strings.Contains(body, r.fp) {
			t.Errorf("Host %s: %s\n%.200s", h, status, body)
		}
	}
}
