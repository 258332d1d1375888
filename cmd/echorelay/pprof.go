package main

// --pprof: Go's profiler over HTTP, for developers. It is in developer builds only
// (go build -tags pprof, pprof_on.go): net/http, net/http/pprof and runtime/pprof add megabytes
// to a binary that must fit a small board, and a release relay never needs them. A release
// build still checks the address (pprof_off.go), so a mistake is named before the build is.

import "net"

// checkPprofAddr accepts only a loopback HOST:PORT: profiles show goroutine stacks and memory,
// nothing for the network.
func checkPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return userErr("give a loopback HOST:PORT, e.g. 127.0.0.1:6060", "--pprof %q is not host:port", addr)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return userErr("give a loopback HOST:PORT, e.g. 127.0.0.1:6060", "--pprof %q is not a loopback address", addr)
	}
	return nil
}
