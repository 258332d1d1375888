// Command echorelay is an accountless relay for end-to-end encrypted blobs, and the client
// commands that talk to it. `echorelay serve` with no arguments starts a useful relay with an
// embedded SQLite cache in the default data directory.
package main

import (
	"os"

	cmdline "github.com/echorelay/echorelay/internal/cli"
	"github.com/echorelay/echorelay/internal/datadir"
	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/internal/web"
)

// version is stamped at link time by scripts/build (-X main.version=…).
var version = "dev"

// app is the table of commands; each file registers its own in init.
var app = &cmdline.App{Name: "echorelay", Summary: "an accountless relay for end-to-end encrypted blobs", Hint: hintFor, VersionExtra: web.VersionLine}

// command is one subcommand, as each file registers it.
type command struct {
	name, summary string
	run           func(args []string) error
}

func register(c command) { app.Register(cmdline.Command{Name: c.name, Summary: c.summary, Run: c.run}) }

func main() {
	app.Version = version
	os.Exit(app.Run(os.Args[1:], os.Stdout, os.Stderr))
}

// The command line's plumbing (internal/cli), under the names the command files use.
var (
	newFlags          = cmdline.NewFlags
	newLogger         = cmdline.NewLogger
	parseFlags        = cmdline.Parse
	parseOnlyFlags    = cmdline.ParseOnlyFlags
	parseInterspersed = cmdline.ParseInterspersed
	subcommand        = cmdline.Subcommand
	promptPassphrase  = cmdline.PromptPassphrase
	readPassphrase    = cmdline.ReadPassphrase
	newPassphrase     = cmdline.NewPassphrase
)

// userErr is a user mistake: printed as one line plus a hint (internal/hint, which the
// libraries use too).
func userErr(h, format string, a ...any) error { return hint.New(h, format, a...) }

// usageError is the type userErr returns, for tests that tell user mistakes apart.
type usageError = hint.Error

// defaultDataDir is the relay's data directory when --data is not given (internal/datadir).
func defaultDataDir() string { return datadir.Default() }
