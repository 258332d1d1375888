// Command echorelay is an accountless relay for end-to-end encrypted blobs, and the client
// commands that talk to it. `echorelay serve` with no arguments starts a useful relay with an
// embedded SQLite cache in the default data directory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/echorelay/echorelay/internal/datadir"
	"github.com/echorelay/echorelay/internal/hint"
)

// version is stamped at link time by scripts/build (-X main.version=…).
var version = "dev"

// command is one subcommand.
type command struct {
	name, summary string
	run           func(args []string) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

// userErr is a user mistake: printed as one line plus a hint (internal/hint, which the
// libraries use too).
func userErr(h, format string, a ...any) error { return hint.New(h, format, a...) }

// defaultDataDir is the relay's data directory when --data is not given (internal/datadir).
func defaultDataDir() string { return datadir.Default() }

// usageError is the type userErr returns, for tests that tell user mistakes apart.
type usageError = hint.Error

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Println("echorelay", version)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:])
			if err == nil || errors.Is(err, flag.ErrHelp) {
				return 0
			}
			report(stderr, err)
			return 1
		}
	}
	report(stderr, userErr("run `echorelay help` for the list of commands", "unknown command %q", args[0]))
	return 2
}

func report(w io.Writer, err error) {
	fmt.Fprintf(w, "echorelay: %s\n", strings.TrimSuffix(err.Error(), "."))
	if h := hint.Of(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	} else if h := hintFor(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "echorelay %s: an accountless relay for end-to-end encrypted blobs\n\nUsage: echorelay COMMAND [flags]\n\nCommands:\n", version)
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n\nRun `echorelay COMMAND --help` for a command's flags.\n", "version", "print the version")
}

// newFlags makes a FlagSet that prints its usage with the command's summary.
func newFlags(name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: echorelay %s %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return userErr(fmt.Sprintf("run `echorelay %s --help` for its flags", fs.Name()), "%s", err)
	}
	return nil
}
