// Package hint carries a mistake a user can fix together with what to do about it.
//
// Libraries (client, config) return *Error for conditions a person caused (a bad flag value,
// an unknown friend, a code with a typo); cmd/echorelay prints the message after
// "echorelay: " and the hint on a line of its own. A hint says what to do next, in the CLI's
// words: it may name commands and flags.
package hint

import (
	"errors"
	"fmt"
)

// Error is a user's mistake with a hint. Err, when set, is the cause (for errors.Is).
type Error struct {
	Msg, Hint string
	Err       error
}

// New formats the message; hint may be empty.
func New(hint, format string, a ...any) error {
	return &Error{Msg: fmt.Sprintf(format, a...), Hint: hint}
}

// Wrap keeps err as the cause of a hinted error whose message is err's own.
func Wrap(hint string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Msg: err.Error(), Hint: hint, Err: err}
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Of returns the hint of the first *Error in err's chain, or "".
func Of(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
