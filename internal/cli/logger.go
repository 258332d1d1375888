package cli

import (
	"io"
	"log/slog"

	"github.com/echorelay/echorelay/internal/hint"
)

// NewLogger is the text logger of --log-level level (debug, info, warn or error) writing to w;
// another level is a usage error.
func NewLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, hint.New("use debug, info, warn or error", "unknown --log-level %q", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
