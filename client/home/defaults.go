package home

import (
	"os"
	"path/filepath"

	"github.com/echorelay/echorelay/internal/datadir"
)

// DefaultDir is the home of the CLI's client when none is given: $ECHORELAY_HOME, else
// ~/.echorelay-client. It is deliberately not the relay's data dir: a phone may run a client
// without a relay, and a Pi a relay without a client.
func DefaultDir() string {
	if h := os.Getenv("ECHORELAY_HOME"); h != "" {
		return h
	}
	if h := datadir.UserHome(); h != "" {
		return filepath.Join(h, ".echorelay-client")
	}
	return ".echorelay-client"
}
