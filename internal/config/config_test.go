package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/hint"
)

func TestParseConfig(t *testing.T) {
	in := "# comment\n\n  max-store = 2048   # trailing\nname = \"room #4 relay\"  # quoted\nlog-level=debug\npeers = /a#b\nresolver =\n"
	ls, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{{"max-store", "2048", 3}, {"name", "room #4 relay", 4}, {"log-level", "debug", 5}, {"peers", "/a#b", 6}, {"resolver", "", 7}}
	if len(ls) != len(want) {
		t.Fatalf("got %+v", ls)
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, ls[i], want[i])
		}
	}
	for bad, msg := range map[string]string{
		"max-store 2048":            "line 2: want `key = value`",
		"= 5":                       "line 2: want `key = value`",
		"Max_Store = 5":             `line 2: "Max_Store" is not a key`,
		`name = "open`:              "line 2: name: unterminated",
		`name = "a" b`:              `line 2: name: unexpected "b"`,
		"max-blob = 1\nmax-blob =2": "line 3: max-blob is already set on line 2",
	} {
		_, err := Parse(strings.NewReader("# ok\n" + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: err %v, want %q", bad, err, msg)
		}
	}
}

func TestApplyPrecedenceAndRules(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.conf")
	if err := os.WriteFile(path, []byte("size = 5\nname = \"from file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	size := fs.Int("size", 1, "")
	name := fs.String("name", "default", "")
	fs.String("token", "", "")
	if err := fs.Parse([]string{"--name", "from flag"}); err != nil {
		t.Fatal(err)
	}
	rules := Rules{Secret: map[string]bool{"token": true}, Explicit: map[string]string{"size": "give --config"}}
	src, err := Apply(fs, path, true, rules)
	if err != nil {
		t.Fatal(err)
	}
	if *size != 5 || *name != "from flag" || src.Of("size") != path+":1" || src.Of("name") != "flag --name" || src.Of("token") != "default" {
		t.Errorf("size %d name %q sources %v", *size, *name, src.From)
	}
	// The same file as the default (not explicit) may not set an Explicit key.
	fs2 := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs2.Int("size", 1, "")
	fs2.String("name", "", "")
	if _, err := Apply(fs2, path, false, rules); err == nil || hint.Of(err) != "give --config" || !strings.Contains(err.Error(), ":1: size cannot be set") {
		t.Errorf("default file setting an explicit-only key: %v (hint %q)", err, hint.Of(err))
	}
	// A missing default file is fine, a missing named one is not.
	if _, err := Apply(fs2, filepath.Join(dir, "none"), false, Rules{}); err != nil {
		t.Errorf("missing default file: %v", err)
	}
	if _, err := Apply(fs2, filepath.Join(dir, "none"), true, Rules{}); err == nil || hint.Of(err) == "" {
		t.Errorf("missing named file: %v", err)
	}
	var out strings.Builder
	fs.Set("token", "s3cret-s3cret-s3cret")
	src.From["token"] = "flag --token"
	Print(&out, fs, src, rules, "header")
	if s := out.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "# token is set (flag --token), not shown") || !strings.HasPrefix(s, "# header\n") || !strings.Contains(s, "size = 5") {
		t.Errorf("Print:\n%s", s)
	}
}

func TestValidateNamesKeyRangeAndSource(t *testing.T) {
	type cfg struct{ N int64 }
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c := cfg{}
	fs.Int64Var(&c.N, "n", 0, "")
	fs.Parse([]string{"--n", "99"})
	checks := []Check[cfg]{{"n", func(c *cfg) string { return IntBetween(c.N, 1, 10) }}, {"absent", func(*cfg) string { return "never" }}}
	src := Sources{From: map[string]string{"n": "flag --n"}}
	err := Validate(fs, &c, checks, src, Rules{})
	if err == nil || err.Error() != "n = 99: must be between 1 and 10" || !strings.Contains(hint.Of(err), "flag --n") {
		t.Errorf("Validate: %v (hint %q)", err, hint.Of(err))
	}
	c.N = 5
	if err := Validate(fs, &c, checks, src, Rules{}); err != nil {
		t.Errorf("a good value refused: %v", err)
	}
	if ShortDur(time.Minute) != "1m" || ShortDur(8760*time.Hour) != "8760h" || HostPort("off", true) != "" || HostPort("x", false) == "" || NotNegative(-1) == "" {
		t.Error("range helpers")
	}
}
