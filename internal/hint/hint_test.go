package hint

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestOfFindsTheHintThroughWrapping(t *testing.T) {
	err := fmt.Errorf("opening home: %w", New("create one with `echorelay id new`", "no identity in %s", "/h"))
	if got := err.Error(); got != "opening home: no identity in /h" {
		t.Errorf("message %q", got)
	}
	if got := Of(err); got != "create one with `echorelay id new`" {
		t.Errorf("hint %q", got)
	}
	if Of(errors.New("plain")) != "" || Of(nil) != "" {
		t.Error("a plain error has a hint")
	}
}

func TestWrapKeepsTheCause(t *testing.T) {
	err := Wrap("check the path", fs.ErrNotExist)
	if !errors.Is(err, fs.ErrNotExist) || Of(err) != "check the path" || err.Error() != fs.ErrNotExist.Error() {
		t.Errorf("Wrap lost something: %v / %q", err, Of(err))
	}
	if Wrap("x", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}
