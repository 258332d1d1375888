//go:build !pprof

package main

// startPprof refuses: this build has no profiler (see pprof.go). The address is checked
// first, so a bad one gets the same answer as in a developer build.
func startPprof(addr string) (stop func(), err error) {
	if err := checkPprofAddr(addr); err != nil {
		return nil, err
	}
	return nil, userErr("build it with: go build -tags pprof ./cmd/echorelay", "--pprof: this echorelay was built without the profiler")
}
