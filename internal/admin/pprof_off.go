//go:build !pprof

package admin

// ServePprof refuses: this build has no profiler (see pprof.go).
func ServePprof(addr string) (stop func(), err error) { return nil, ErrNoPprof }
