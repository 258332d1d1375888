package cli

import (
	"bytes"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/echorelay/echorelay/internal/hint"
)

// Exit codes and the error voice: 0 for success and --help, 1 with "NAME: message" and a
// hint line for a failed command, 2 for an unknown command or none.
func TestAppRunExitCodesAndVoice(t *testing.T) {
	a := &App{Name: "prog", Version: "v1", Summary: "s", Hint: func(err error) string {
		if strings.Contains(err.Error(), "disk") {
			return "free some space"
		}
		return ""
	}}
	a.Register(Command{Name: "ok", Summary: "works", Run: func([]string) error { return nil }})
	a.Register(Command{Name: "fail", Summary: "fails", Run: func(args []string) error {
		if len(args) > 0 {
			return errors.New("disk full.")
		}
		return hint.New("do this", "bad %s", "input")
	}})
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"ok"}, 0, "", ""},
		{[]string{"version"}, 0, "prog v1\n", ""},
		{[]string{"fail"}, 1, "", "prog: bad input\nhint: do this\n"},
		{[]string{"fail", "x"}, 1, "", "prog: disk full\nhint: free some space\n"},
		{[]string{"nope"}, 2, "", "prog: unknown command \"nope\"\nhint: run `prog help` for the list of commands\n"},
	} {
		var out, errOut bytes.Buffer
		if code := a.Run(tc.args, &out, &errOut); code != tc.code || out.String() != tc.out || errOut.String() != tc.err {
			t.Errorf("%v: code %d, stdout %q, stderr %q", tc.args, code, out.String(), errOut.String())
		}
	}
	var errOut bytes.Buffer
	if code := a.Run(nil, &bytes.Buffer{}, &errOut); code != 2 || !strings.Contains(errOut.String(), "  fail       fails\n  ok         works\n") {
		t.Errorf("no command: code %d, usage %q", code, errOut.String())
	}
}

// Flags may follow positional arguments; a command without positionals refuses them.
func TestParseInterspersedAndOnlyFlags(t *testing.T) {
	fs := NewFlags("friend accept", "CODE", "")
	name := fs.String("name", "", "")
	pos, err := ParseInterspersed(fs, []string{"CODE1", "--name", "bob", "more"})
	if err != nil || !slices.Equal(pos, []string{"CODE1", "more"}) || *name != "bob" {
		t.Fatalf("pos %q, name %q, err %v", pos, *name, err)
	}
	fs = NewFlags("status", "", "")
	fs.Bool("json", false, "")
	if err := ParseOnlyFlags(fs, []string{"--json", "extra"}); hint.Of(err) != "status takes only flags" {
		t.Fatalf("extra argument: %v (hint %q)", err, hint.Of(err))
	}
	if err := Parse(NewFlags("x", "", ""), []string{"--nope"}); hint.Of(err) == "" {
		t.Fatalf("unknown flag: %v without a hint", err)
	}
	if err := Parse(NewFlags("x", "", ""), []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}

// A subcommand runs; none or an unknown one is a usage error naming the choices.
func TestSubcommand(t *testing.T) {
	ran := ""
	subs := map[string]func([]string) error{"b": func(a []string) error { ran = "b" + strings.Join(a, ","); return nil }, "a": nil}
	if err := Subcommand("id", []string{"b", "1", "2"}, subs); err != nil || ran != "b1,2" {
		t.Fatalf("ran %q, err %v", ran, err)
	}
	for _, args := range [][]string{nil, {"c"}} {
		if err := Subcommand("id", args, subs); hint.Of(err) != "use `echorelay id a|b`" {
			t.Errorf("%q: %v (hint %q)", args, err, hint.Of(err))
		}
	}
}

// A List flag collects every use in order, and a value its parser refuses is a usage error
// naming the flag.
func TestListFlag(t *testing.T) {
	l := &List[int]{Parse: func(s string) (int, error) {
		if s == "bad" {
			return 0, errors.New("not a number")
		}
		return len(s), nil
	}}
	fs := NewFlags("x", "", "")
	fs.Var(l, "n", "")
	if err := Parse(fs, []string{"-n", "a", "--n", "abc"}); err != nil || !slices.Equal(l.Values, []int{1, 3}) || l.String() != "2" {
		t.Fatalf("parsed %v (%s), %v", l.Values, l.String(), err)
	}
	if err := Parse(fs, []string{"-n", "bad"}); err == nil || !strings.Contains(err.Error(), "-n: not a number") || hint.Of(err) == "" {
		t.Fatalf("a refused value: %v", err)
	}
}

// ParseCounted takes flags among the positionals and refuses too few or too many with the
// command's synopsis as the hint; a negative max is no limit.
func TestParseCounted(t *testing.T) {
	for _, tc := range []struct {
		min, max int
		args     []string
		want     string // the error; "" for success
		npos     int
	}{
		{1, 1, []string{"a", "-v"}, "", 1},
		{2, 2, []string{"a"}, "friend rename takes 2 argument(s)", 0},
		{1, 1, []string{"a", "b"}, "friend rename takes 1 argument(s)", 0},
		{1, -1, []string{"a", "b", "c"}, "", 3},
		{2, -1, []string{"-v", "a"}, "friend rename takes at least 2 argument(s)", 0},
	} {
		fs := NewFlags("friend rename", "OLD NEW", "")
		fs.Bool("v", false, "")
		pos, err := ParseCounted(fs, tc.args, tc.min, tc.max, "OLD NEW")
		if tc.want == "" && (err != nil || len(pos) != tc.npos) {
			t.Errorf("%d..%d %q: %q, %v", tc.min, tc.max, tc.args, pos, err)
		}
		if tc.want != "" && (err == nil || err.Error() != tc.want || hint.Of(err) != "usage: echorelay friend rename OLD NEW") {
			t.Errorf("%d..%d %q: %v (hint %q), want %q", tc.min, tc.max, tc.args, err, hint.Of(err), tc.want)
		}
	}
}
