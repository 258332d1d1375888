package testutil

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs a package's tests and then fails the run if goroutines that the tests
// started are still running (a link, listener or committer that was not stopped). Call it
// from TestMain. Goroutines that belong to libraries' process-wide pools are ignored. The
// cleanups run after the check, before the process exits (e.g. to remove a shared fixture).
func VerifyNoLeaks(m *testing.M, cleanups ...func()) {
	opts := LeakOptions()
	if len(cleanups) > 0 {
		opts = append(opts, goleak.Cleanup(func(code int) {
			for _, c := range cleanups {
				c()
			}
			os.Exit(code)
		}))
	}
	goleak.VerifyTestMain(m, opts...)
}

// LeakOptions are the goroutines every leak check ignores, for a TestMain that calls goleak
// itself (cmd/echorelay checks after removing its built binary).
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		// The runtime's signal goroutines are process-wide, started by signal.Notify.
		goleak.IgnoreTopFunction("os/signal.signal_recv"),
		goleak.IgnoreTopFunction("os/signal.loop"),
	}
}
