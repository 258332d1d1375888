package main

import (
	"errors"
	"strings"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
)

// hintFor suggests what to do next for errors a user can cause.
func hintFor(err error) string {
	switch {
	case errors.Is(err, echo.ErrTooLarge):
		return "the relay's max blob size is in its /status; `echorelay send` chunks large files"
	case errors.Is(err, echo.ErrExpired), errors.Is(err, echo.ErrTooFarFuture):
		return "check this computer's clock and the --ttl flag (at most 30 days by default)"
	case errors.Is(err, echo.ErrQuotaExceeded):
		return "this mailbox is full on the relay; fetch and let old blobs expire, or use another tag"
	case errors.Is(err, echo.ErrStoreFull):
		return "the relay's cache is full; its operator can raise --max-store or free disk space"
	case errors.Is(err, echo.ErrRateLimited):
		return "wait as the error says, then try again"
	case errors.Is(err, echo.ErrStampRequired):
		return "the relay asks for proof of work; `echorelay put` computes it, give it a longer --timeout"
	case errors.Is(err, peers.ErrWrongRelay):
		return "the relay there presents another key than the one recorded: somebody may be in the middle, or its operator replaced the key (then exchange a new invite)"
	case errors.Is(err, peers.ErrNothingListens):
		return "is echorelay running there? check the address (host:port, e.g. 127.0.0.1:7788) and that the relay was started"
	case errors.Is(err, echo.ErrNotNeighbour):
		return "add this relay to the other relay's peers file, then run `echorelay reload` there"
	case strings.Contains(err.Error(), "relay address"), strings.Contains(err.Error(), "failed to connect to relay"), strings.Contains(err.Error(), "timeout: no recent network activity"):
		return "is the relay running and reachable? the address is host:port, e.g. 127.0.0.1:7788"
	}
	return ""
}
