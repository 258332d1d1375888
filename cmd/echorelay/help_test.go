package main

import (
	"strings"
	"testing"
)

// `echorelay id --help` and friends answer with their subcommands, not "unknown subcommand";
// flag help names what a value is (issue #18 item 5).
func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"id", "--help"}, []string{"usage: echorelay id new|show"}},
		{[]string{"friend", "-h"}, []string{"usage: echorelay friend ", "invite"}},
		{[]string{"serve", "--help"}, []string{"-peers FILE"}},
		{[]string{"send", "--help"}, []string{"'echorelay inbox --all'"}},
	} {
		out, err := relayCommand(c.args...).CombinedOutput()
		if err != nil && c.args[0] != "serve" && c.args[0] != "send" {
			t.Errorf("echorelay %s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("echorelay %s does not say %q:\n%s", strings.Join(c.args, " "), w, out)
			}
		}
		if strings.Contains(string(out), "unknown subcommand") {
			t.Errorf("echorelay %s: %s", strings.Join(c.args, " "), out)
		}
	}
}
