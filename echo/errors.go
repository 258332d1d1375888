package echo

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Code is a wire error code (PROTOCOL.md section 3, "Error codes").
type Code uint16

// Error codes. The numbers are on the wire: never renumber.
const (
	CodeTooLarge           Code = 1
	CodeExpired            Code = 2
	CodeTooFarFuture       Code = 3
	CodeQuotaExceeded      Code = 4
	CodeStoreFull          Code = 5
	CodeMalformed          Code = 6
	CodeRateLimited        Code = 7
	CodeUnsupportedVersion Code = 8
	CodeNotNeighbour       Code = 9
	CodeInternal           Code = 10
	CodeStampRequired      Code = 11
)

var codeNames = map[Code]string{
	CodeTooLarge:           "too_large",
	CodeExpired:            "expired",
	CodeTooFarFuture:       "too_far_future",
	CodeQuotaExceeded:      "quota_exceeded",
	CodeStoreFull:          "store_full",
	CodeMalformed:          "malformed",
	CodeRateLimited:        "rate_limited",
	CodeUnsupportedVersion: "unsupported_version",
	CodeNotNeighbour:       "not_neighbour",
	CodeInternal:           "internal",
	CodeStampRequired:      "stamp_required",
}

// String is the code's name as in PROTOCOL.md.
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint16(c))
}

// Codes lists every defined code in order, for counters.
func Codes() []Code {
	cs := make([]Code, 0, len(codeNames))
	for c := Code(1); int(c) <= len(codeNames); c++ {
		cs = append(cs, c)
	}
	return cs
}

// Sentinel errors, one per expected condition. Each wraps to its Code via CodeOf.
var (
	ErrTooLarge           = &Error{Code: CodeTooLarge, Msg: "blob too large"}
	ErrExpired            = &Error{Code: CodeExpired, Msg: "blob expired"}
	ErrTooFarFuture       = &Error{Code: CodeTooFarFuture, Msg: "blob expiry too far in the future"}
	ErrQuotaExceeded      = &Error{Code: CodeQuotaExceeded, Msg: "mailbox quota exceeded"}
	ErrStoreFull          = &Error{Code: CodeStoreFull, Msg: "store full"}
	ErrMalformed          = &Error{Code: CodeMalformed, Msg: "malformed input"}
	ErrRateLimited        = &Error{Code: CodeRateLimited, Msg: "rate limited"}
	ErrUnsupportedVersion = &Error{Code: CodeUnsupportedVersion, Msg: "unsupported protocol version"}
	ErrNotNeighbour       = &Error{Code: CodeNotNeighbour, Msg: "not a configured neighbour"}
	ErrInternal           = &Error{Code: CodeInternal, Msg: "internal error"}
	ErrStampRequired      = &Error{Code: CodeStampRequired, Msg: "stamp required"}
)

// Error is a protocol error as carried by an ERROR frame.
type Error struct {
	Code       Code
	RetryAfter time.Duration
	Msg        string
}

func (e *Error) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s (%s): retry after %s", e.Msg, e.Code, e.RetryAfter)
	}
	return fmt.Sprintf("%s (%s)", e.Msg, e.Code)
}

// Is makes errors.Is match any *Error with the same code, so an Error that came off the
// wire matches the sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CodeOf maps err to a wire code: an *Error in its chain gives its code, a store error with
// Reason() "store_full" or "quota_exceeded" its counterpart, anything else CodeInternal.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	var r interface{ Reason() string }
	if errors.As(err, &r) {
		switch r.Reason() {
		case "store_full":
			return CodeStoreFull
		case "quota_exceeded":
			return CodeQuotaExceeded
		case "expired":
			return CodeExpired
		}
	}
	return CodeInternal
}

// AsError converts any error into a wire *Error, keeping its text for people.
func AsError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		if pe.Msg == "" || err.Error() == pe.Error() {
			return pe
		}
		msg := err.Error()
		if full := pe.Error(); strings.HasPrefix(msg, full) {
			msg = pe.Msg + msg[len(full):]
		}
		return &Error{Code: pe.Code, RetryAfter: pe.RetryAfter, Msg: msg}
	}
	return &Error{Code: CodeOf(err), Msg: err.Error()}
}
