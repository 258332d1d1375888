package client

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Shown counts the events of a Receive that are no rejection: what `inbox` reports as new.
func (r *ReceiveResult) Shown() int {
	n := 0
	for _, e := range r.Events {
		if _, ok := e.(RejectedEvent); !ok {
			n++
		}
	}
	return n
}

// FailedErr is nil when every relay was read, else one error that names the relays that
// could not be read (sorted) and one of their errors.
func (r *ReceiveResult) FailedErr() error {
	if len(r.Failed) == 0 {
		return nil
	}
	addrs := slices.Sorted(maps.Keys(r.Failed))
	return fmt.Errorf("could not read %s (%w); messages there wait for the next run", strings.Join(addrs, ", "), r.Failed[addrs[len(addrs)-1]])
}
