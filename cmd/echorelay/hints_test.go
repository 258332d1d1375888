package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A busy port's hint names the flag that moves that listener (issue #18 item 1: the status
// page's said --listen).
func TestBusyPortHintNamesTheFlag(t *testing.T) {
	inUse := errors.New("bind: address already in use")
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("failed to listen on UDP 0.0.0.0:7788: %w", inUse), "--listen"},
		{fmt.Errorf("failed to listen for the status page on 127.0.0.1:7789: %w", inUse), "--admin"},
		{fmt.Errorf("failed to listen for Echo links on 0.0.0.0:4710: %w", inUse), "--echo-listen"},
		{fmt.Errorf("failed to listen for pprof on 127.0.0.1:6060: %w", inUse), "--pprof"},
	} {
		h := hintFor(c.err)
		if !strings.HasSuffix(strings.TrimSuffix(h, " (or --admin off)"), c.want) {
			t.Errorf("hint for %q = %q, want it to end with %s", c.err, h, c.want)
		}
	}
}
