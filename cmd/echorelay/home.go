package main

// The client home (client/home): one directory per identity, private to its user. HOME is
// --home, else home.DefaultDir.

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/client/home"
	"github.com/echorelay/echorelay/echo/seal"
	cmdline "github.com/echorelay/echorelay/internal/cli"
)

func defaultHome() string { return home.DefaultDir() }

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
		passFile: fs.String("passphrase-file", "", "read the identity's passphrase from this file's first line; "+cmdline.PassphraseEnvHelp),
	}
}

// homeCmd runs `echorelay CMD NAME …` on the home: it parses --home, --passphrase-file,
// --timeout and the flags more adds, wants min to max positionals (max < 0: no limit), opens
// the home and runs fn; the client's errors get their hints (clientErr).
func homeCmd(cmd, name, usage, summary string, min, max int, args []string, fn func(context.Context, *client.Client, []string) error, more ...func(*flag.FlagSet)) error {
	fs := newFlags(cmd+" "+name, usage+" [--home DIR]", summary)
	hf := addHomeFlags(fs)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	for _, m := range more {
		m(fs)
	}
	pos, err := cmdline.ParseCounted(fs, args, min, max, usage)
	if err != nil {
		return err
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	return clientErr(fn(ctx, cl, pos))
}
