// Package cli is the plumbing of echorelay's command line: a table of commands, flag sets that
// print their usage with a summary, flags interspersed with positional arguments,
// subcommands, one voice for errors ("echorelay: what happened" and "hint: what to do next",
// internal/hint) and prompts on the terminal. It knows no command; cmd/echorelay registers
// them.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/echorelay/echorelay/internal/hint"
)

// Command is one subcommand.
type Command struct {
	Name, Summary string
	Run           func(args []string) error
}

// App is a program of commands.
type App struct {
	Name, Version, Summary string
	Commands               []Command
	// Hint suggests what to do next for an error without a hint of its own ("" for none).
	Hint func(error) string
	// VersionExtra, when set, adds a line to `version` (the web client's SHA-256).
	VersionExtra func() string
}

// Register adds a command.
func (a *App) Register(c Command) { a.Commands = append(a.Commands, c) }

// Run runs the command args[0] and returns the process's exit code: 0, 1 when the command
// failed, 2 for a usage error before any command ran.
func (a *App) Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(stdout, a.Name, a.Version)
		if a.VersionExtra != nil {
			fmt.Fprintln(stdout, a.VersionExtra())
		}
		return 0
	}
	for _, c := range a.Commands {
		if c.Name == args[0] {
			err := c.Run(args[1:])
			if err == nil || errors.Is(err, flag.ErrHelp) {
				return 0
			}
			a.Report(stderr, err)
			return 1
		}
	}
	a.Report(stderr, hint.New("run `"+a.Name+" help` for the list of commands", "unknown command %q", args[0]))
	return 2
}

// Report prints err as one line and its hint, if any, as a second.
func (a *App) Report(w io.Writer, err error) {
	fmt.Fprintf(w, "%s: %s\n", a.Name, strings.TrimSuffix(err.Error(), "."))
	h := hint.Of(err)
	if h == "" && a.Hint != nil {
		h = a.Hint(err)
	}
	if h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, "%s %s: %s\n\nUsage: %s COMMAND [flags]\n\nCommands:\n", a.Name, a.Version, a.Summary, a.Name)
	cs := slices.SortedFunc(slices.Values(a.Commands), func(x, y Command) int { return strings.Compare(x.Name, y.Name) })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n\nRun `%s COMMAND --help` for a command's flags.\n", "version", "print the version", a.Name)
}

// NewFlags makes a FlagSet for `echorelay NAME` that prints its usage with the summary.
func NewFlags(name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: echorelay %s %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args into fs and turns flag errors into usage errors; --help prints the usage
// and returns flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return hint.New(fmt.Sprintf("run `echorelay %s --help` for its flags", fs.Name()), "%s", err)
	}
	return nil
}

// ParseInterspersed parses flags that may come after positional arguments (`accept CODE
// --name X`) and returns the positionals, at most 64.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for i := 0; i < 64; i++ {
		if err := Parse(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return nil, hint.New("too many arguments", "too many arguments")
}

// ParseCounted is ParseInterspersed for a command that takes min to max positional
// arguments (max < 0: no limit); usage is its synopsis after the name, for the hint.
func ParseCounted(fs *flag.FlagSet, args []string, min, max int, usage string) ([]string, error) {
	pos, err := ParseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		n := fmt.Sprint(min)
		if max < 0 {
			n = "at least " + n
		}
		return nil, hint.New("usage: echorelay "+fs.Name()+" "+usage, "%s takes %s argument(s)", fs.Name(), n)
	}
	return pos, nil
}

// ParseOnlyFlags is Parse for commands that take no positional arguments.
func ParseOnlyFlags(fs *flag.FlagSet, args []string) error {
	if err := Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return hint.New(fs.Name()+" takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Subcommand runs `echorelay NAME SUB args…` from subs; `NAME --help` lists the subcommands.
func Subcommand(name string, args []string, subs map[string]func([]string) error) error {
	keys := strings.Join(slices.Sorted(maps.Keys(subs)), "|")
	h := fmt.Sprintf("use `echorelay %s %s`", name, keys)
	if len(args) == 0 {
		return hint.New(h, "%s needs a subcommand", name)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		// `echorelay id --help` is a question, not a subcommand: list the subcommands, each
		// of which explains its own flags with --help.
		fmt.Fprintf(os.Stdout, "usage: echorelay %s %s [flags]\n\n`echorelay %s SUBCOMMAND --help` explains each one's flags.\n", name, keys, name)
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return hint.New(h, "unknown subcommand %q", name+" "+args[0])
	}
	return run(args[1:])
}

// List is a flag that may be repeated: each use appends the value Parse makes of it
// (`--mailbox A --mailbox B`).
type List[T any] struct {
	Values []T
	Parse  func(string) (T, error)
}

func (l *List[T]) String() string { return fmt.Sprint(len(l.Values)) }

// Set parses one use of the flag.
func (l *List[T]) Set(s string) error {
	v, err := l.Parse(s)
	if err != nil {
		return err
	}
	l.Values = append(l.Values, v)
	return nil
}
