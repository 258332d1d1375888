package relayd

// --pprof: Go's profiler over HTTP, for developers, in developer builds only (go build -tags
// pprof; internal/admin/pprof.go). A release build still checks the address, so a mistake is
// named before the build is.

import (
	"errors"
	"net"

	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/hint"
)

// CheckPprofAddr accepts only a loopback HOST:PORT: profiles show goroutine stacks and memory,
// nothing for the network.
func CheckPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return hint.New("give a loopback HOST:PORT, e.g. 127.0.0.1:6060", "--pprof %q is not host:port", addr)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return hint.New("give a loopback HOST:PORT, e.g. 127.0.0.1:6060", "--pprof %q is not a loopback address", addr)
	}
	return nil
}

// startPprof serves the profiler on addr, which must be a loopback address.
func startPprof(addr string) (stop func(), err error) {
	if err := CheckPprofAddr(addr); err != nil {
		return nil, err
	}
	stop, err = admin.ServePprof(addr)
	if errors.Is(err, admin.ErrNoPprof) {
		return nil, hint.New("build it with: go build -tags pprof ./cmd/echorelay", "--pprof: this echorelay was built without the profiler")
	}
	return stop, err
}
