package main

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
)

// The client itself is tested in internal/admin (client_test.go); here, that the errors a user
// can cause become one line and a hint, and the others stay plain errors.
func TestStatusClientHints(t *testing.T) {
	t.Parallel()
	answer := func(a string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(testutil.Timeout(10 * time.Second)))
			buf := make([]byte, 4096)
			c.Read(buf) // the request head fits one read on loopback
			io.WriteString(c, a)
		}()
		t.Cleanup(func() { ln.Close(); <-done })
		return ln.Addr().String()
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	for _, c := range []struct {
		addr, token, want, hint string
	}{
		{answer("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"), "", "needs its token", "give --token"},
		{"no-port", "", "bad admin address", "HOST:PORT"},
		{"127.0.0.1:1", "tok\r\nX: 1", "spaces or control characters", "admin.token"},
		{refused, "", "no relay answers at " + refused, "is the relay running?"},
		{answer("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"), "", "500 Internal Server Error", ""},
	} {
		_, err := fetchStatus(c.addr, c.token)
		var ue *usageError
		isUser := errors.As(err, &ue)
		if err == nil || !strings.Contains(err.Error(), c.want) || isUser != (c.hint != "") || (isUser && !strings.Contains(ue.Hint, c.hint)) {
			t.Errorf("%s: %v (usage error %v); want %q with hint %q", c.addr, err, isUser, c.want, c.hint)
		}
	}
}
