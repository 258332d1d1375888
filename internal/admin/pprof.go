package admin

import "errors"

// Go's profiler over HTTP (--pprof), for developers, on a listener of its own. It is in
// developer builds only (go build -tags pprof, pprof_on.go): net/http/pprof and runtime/pprof
// add to a binary that must fit a small board, and a release relay never needs them.

// ErrNoPprof is returned by ServePprof in a build without the profiler.
var ErrNoPprof = errors.New("this echorelay was built without the profiler")
