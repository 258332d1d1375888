package testutil

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs a package's tests and then fails the run if goroutines that the tests
// started are still running (a link, listener or committer that was not stopped). Call it
// from TestMain. Goroutines that belong to libraries' process-wide pools are ignored.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m, leakOptions()...)
}

func leakOptions() []goleak.Option {
	return []goleak.Option{
		// SQLite (modernc) and quic-go keep no per-test goroutines, but the runtime's
		// signal and finaliser goroutines are process-wide.
		goleak.IgnoreTopFunction("os/signal.signal_recv"),
		goleak.IgnoreTopFunction("os/signal.loop"),
	}
}
