package main

// The client home (client/home): one directory per identity, private to its user. HOME is
// --home, else home.DefaultDir.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/client/home"
	"github.com/echorelay/echorelay/echo/seal"
)

func defaultHome() string { return home.DefaultDir() }

// passEnvHelp says why the environment variable is a last resort.
const passEnvHelp = "env ECHORELAY_PASSPHRASE works too, for scripts only: other processes of the same user can read a process's environment"

// readPassphrase reads --passphrase-file's first line, else $ECHORELAY_PASSPHRASE (unsafe,
// see passEnvHelp); nil when neither is given.
func readPassphrase(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("failed to read passphrase file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return []byte(strings.TrimRight(line, "\r")), nil
	}
	return []byte(os.Getenv("ECHORELAY_PASSPHRASE")), nil
}

// openHome opens the identity (asking for its passphrase on the terminal when it is protected
// and none was given) and the history of a home made by `id new`.
func openHome(dir, passFile string) (*client.Client, error) {
	raw, err := home.ReadIdentityFile(dir)
	if errors.Is(err, home.ErrNoIdentity) {
		return nil, userErr("create one with `echorelay id new --home "+dir+"`", "no identity in %s", dir)
	}
	if err != nil {
		return nil, err
	}
	pass, err := readPassphrase(passFile)
	if err != nil {
		return nil, err
	}
	if len(pass) == 0 && seal.IsProtected(raw) {
		pass = promptPassphrase("passphrase for " + dir + ": ")
	}
	c, err := home.Open(dir, pass, dialTransport, nil)
	switch {
	case errors.Is(err, seal.ErrPassphrase):
		return nil, userErr("type it when asked, or give --passphrase-file FILE", "this identity is protected by a passphrase: %s", err)
	case errors.Is(err, client.ErrHistoryKey):
		return nil, userErr("history.db belongs to another identity; move it away to start an empty history", "%s", err)
	}
	return c, err
}

// homeFlags adds --home and --passphrase-file.
type homeFlags struct{ home, passFile *string }

func addHomeFlags(fs interface {
	String(name, value, usage string) *string
}) homeFlags {
	return homeFlags{
		home:     fs.String("home", defaultHome(), "client home: identity, friends, history (env ECHORELAY_HOME)"),
		passFile: fs.String("passphrase-file", "", "read the identity's passphrase from this file's first line; "+passEnvHelp),
	}
}

// homeCmd runs `echorelay CMD NAME …` on the home: it parses --home, --passphrase-file,
// --timeout and the flags more adds, wants min to max positionals (max < 0: no limit), opens
// the home and runs fn; the client's errors get their hints (friendErr).
func homeCmd(cmd, name, usage, summary string, min, max int, args []string, fn func(context.Context, *client.Client, []string) error, more ...func(*flag.FlagSet)) error {
	fs := newFlags(cmd+" "+name, usage+" [--home DIR]", summary)
	hf := addHomeFlags(fs)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	for _, m := range more {
		m(fs)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		n := fmt.Sprint(min)
		if max < 0 {
			n = "at least " + n
		}
		return userErr("usage: echorelay "+cmd+" "+name+" "+usage, "%s %s takes %s argument(s)", cmd, name, n)
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	return friendErr(fn(ctx, cl, pos))
}
