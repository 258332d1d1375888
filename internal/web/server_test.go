package web

import (
	"net/http"
	"strings"
	"testing"
)

// The web client's default address is the relay's host with its port + 2, port 0 beside 0.
func TestDefaultAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:7788": "0.0.0.0:7790", "127.0.0.1:0": "127.0.0.1:0", "[::]:9000": "[::]:9002",
	} {
		if got, err := DefaultAddr(in); err != nil || got != want {
			t.Errorf("DefaultAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"0.0.0.0:65534", "nonsense", "host:port"} {
		if got, err := DefaultAddr(bad); err == nil {
			t.Errorf("DefaultAddr(%q) = %q, want an error", bad, got)
		}
	}
}

// A listener on all interfaces offers one address per interface, loopback last; one on a
// single address offers that one; Close ends it.
func TestServerURLs(t *testing.T) {
	h := http.NewServeMux()
	all, err := Listen("0.0.0.0:0", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	urls := all.URLs()
	if len(urls) == 0 || !strings.HasPrefix(urls[0], "http://") || strings.Contains(urls[0], "0.0.0.0") {
		t.Fatalf("URLs on all interfaces: %v", urls)
	}
	seenLoop := false
	for _, u := range urls {
		loop := strings.Contains(u, "//127.") || strings.Contains(u, "[::1]")
		if seenLoop && !loop {
			t.Fatalf("a LAN address after loopback: %v", urls)
		}
		seenLoop = seenLoop || loop
	}
	one, err := Listen("127.0.0.1:0", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := one.URLs(); len(u) != 1 || u[0] != "http://"+one.Addr().String()+"/" {
		t.Fatalf("URLs on one address: %v", u)
	}
	one.Close()
	if _, err := http.Get("http://" + one.Addr().String() + "/"); err == nil {
		t.Fatal("the listener still answers after Close")
	}
}
