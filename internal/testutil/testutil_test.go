package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestPollReturnsOnceTrue(t *testing.T) {
	var n atomic.Int32
	if !Poll(time.Minute, func() bool { return n.Add(1) >= 3 }) {
		t.Fatal("Poll gave up on a condition that became true")
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("cond called %d times, want 3 (Poll must return as soon as it holds)", got)
	}
}

func TestPollGivesUp(t *testing.T) {
	if Poll(time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
}

func TestTimeoutScales(t *testing.T) {
	if got := Timeout(time.Second); got < time.Second || got != time.Duration(float64(time.Second)*Scale()) {
		t.Fatalf("Timeout(1s) = %v with Scale %v", got, Scale())
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	done := make(chan struct{})
	go func() { b.Write([]byte("ab")); close(done) }()
	b.Write([]byte("cd"))
	<-done
	if s := b.String(); b.Len() != 4 || (s != "abcd" && s != "cdab") {
		t.Fatalf("Buffer holds %q", s)
	}
}
