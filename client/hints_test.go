package client

import (
	"errors"
	"fmt"
	"testing"
)

// Every error a person can cause has its hint, found through wrapping; others have none.
func TestHints(t *testing.T) {
	for _, h := range hints {
		if got := Hint(fmt.Errorf("failed to send: %w", h.err)); got != h.hint || got == "" {
			t.Errorf("%v: hint %q", h.err, got)
		}
	}
	if h := Hint(errors.New("disk full")); h != "" {
		t.Errorf("an unrelated error got the hint %q", h)
	}
}
