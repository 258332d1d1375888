// Package testutil is the one test harness shared by the packages that start real sockets,
// stores and processes: a scalable deadline, a poll-until helper, and a buffer that is safe to
// write from many goroutines.
//
// Deadlines never measure speed here; they only bound how long a test may wait for something
// that must happen. They scale with one factor, Scale, so a loaded machine, the race detector or
// ARM emulation stretches every wait alike instead of failing a test.
package testutil

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ScaleEnv names the environment variable that multiplies every deadline (default 1; it may
// be fractional, e.g. 2.5). scripts/test-under-load raises it.
const ScaleEnv = "ECHORELAY_TEST_SCALE"

var (
	scaleOnce sync.Once
	scale     float64
)

// Scale is the factor every test deadline is multiplied by: $ECHORELAY_TEST_SCALE (default 1),
// times 5 under the race detector, times 10 under emulation (ECHORELAY_EXEC_WRAPPER) or on ARM.
func Scale() float64 {
	scaleOnce.Do(func() {
		scale = 1
		if v, err := strconv.ParseFloat(os.Getenv(ScaleEnv), 64); err == nil && v > 0 {
			scale = v
		}
		if RaceEnabled {
			scale *= 5
		}
		if os.Getenv("ECHORELAY_EXEC_WRAPPER") != "" || runtime.GOARCH == "arm" || runtime.GOARCH == "arm64" {
			scale *= 10
		}
	})
	return scale
}

// Emulated reports whether the tests run under an emulator (scripts/test-arm).
func Emulated() bool { return os.Getenv("ECHORELAY_EXEC_WRAPPER") != "" }

// Timeout is d scaled by Scale: the bound for anything a test waits for.
func Timeout(d time.Duration) time.Duration { return time.Duration(float64(d) * Scale()) }

// Eventually polls cond until it holds, and fails the test with what if it does not hold
// within Timeout(limit). It sleeps between polls (starting at 1 ms, growing to 50 ms) only to
// poll, never to synchronise: the test proceeds the moment cond is true.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(limit, cond) {
		t.Fatalf("timed out after %v waiting for %s", Timeout(limit), what)
	}
}

// Poll is Eventually without a test: it reports whether cond held within Timeout(limit).
func Poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(Timeout(limit))
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(pause)
		if pause < 50*time.Millisecond {
			pause *= 2
		}
	}
}

// Buffer is a bytes.Buffer safe for concurrent writers (a process's stderr, a logger).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len is the number of bytes written so far.
func (l *Buffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}
