// Package resolve points Go's resolver at a DNS server where the system gives none.
//
// echorelay is built with CGO_ENABLED=0, so every lookup goes through Go's
// own resolver, which reads its servers from /etc/resolv.conf. Android has
// no such file: Termux keeps one at $PREFIX/etc/resolv.conf instead, and
// without help the Go resolver falls back to 127.0.0.1:53, where nothing
// listens, and every neighbour given by host name fails to dial.
// Setup fixes that once, at the start of `serve`, before any lookup:
//
//	--resolver IP[:port] given            use that server (port 53 by default)
//	else $PREFIX/etc/resolv.conf exists
//	     and /etc/resolv.conf does not    use its first nameserver (Termux)
//	else                                  leave net.DefaultResolver alone
//
// It replaces only where queries go: search domains, ndots, timeouts and
// /etc/hosts keep working as the Go resolver does them.
package resolve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// defaultDNSPort is the port used when a resolver is given without one.
const defaultDNSPort = 53

// errNoResolver means a resolver address was given but names no IP address.
var errNoResolver = errors.New("resolver must be an IP address, optionally with :port")

// Setup installs a net.DefaultResolver that sends every query to
// addr ("IP", "IP:port", "[IPv6]:port"), or, when addr is empty, to the
// first nameserver of Termux's resolv.conf when the system one is missing.
// It returns an error only for a bad addr; a missing or empty Termux file
// leaves the default resolver as it was.
func Setup(addr string) error {
	server, err := chooseResolver(addr, os.Getenv("PREFIX"), resolvConfExists)
	if err != nil {
		return err
	}
	if server.IsValid() {
		net.DefaultResolver = newResolver(server)
	}
	return nil
}

// chooseResolver decides which DNS server to use, without touching any
// global state. It returns the zero AddrPort when the default resolver
// should be kept. prefix is Termux's $PREFIX ("" elsewhere); exists reports
// whether a file exists and is injected for tests.
func chooseResolver(addr, prefix string, exists func(string) bool) (netip.AddrPort, error) {
	if addr != "" {
		ap, err := parseResolverAddr(addr)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("failed to parse resolver %q: %w", addr, err)
		}
		return ap, nil
	}
	if prefix == "" || exists("/etc/resolv.conf") {
		return netip.AddrPort{}, nil
	}
	conf := filepath.Join(prefix, "etc", "resolv.conf")
	data, err := os.ReadFile(conf)
	if err != nil {
		// Not Termux, or a Termux without the resolv-conf package: nothing
		// better to offer than the default.
		return netip.AddrPort{}, nil
	}
	servers := parseResolvConf(string(data))
	if len(servers) == 0 {
		return netip.AddrPort{}, nil
	}
	return netip.AddrPortFrom(servers[0], defaultDNSPort), nil
}

// parseResolverAddr parses "IP", "IP:port" or "[IPv6]:port".
func parseResolverAddr(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, errNoResolver
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, errNoResolver
	}
	return netip.AddrPortFrom(a.Unmap(), defaultDNSPort), nil
}

// parseResolvConf returns the nameserver addresses of a resolv.conf, in
// order. Lines other than "nameserver ADDR" are ignored, as are comments
// ('#' or ';' first on a line or after the address) and addresses that do
// not parse. An IPv6 address may carry a zone ("fe80::1%wlan0").
func parseResolvConf(text string) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		out = append(out, a.Unmap())
	}
	return out
}

// newResolver returns a pure-Go resolver that sends every query, over UDP
// or TCP as the resolver chooses, to server.
func newResolver(server netip.AddrPort) *net.Resolver {
	target := server.String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, target)
		},
	}
}

// resolvConfExists reports whether path names an existing file (following links).
func resolvConfExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
