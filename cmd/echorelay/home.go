package main

// The client home: one directory per identity, private to its user.
//
//	HOME/identity     the identity file (seal.Identity.Marshal), 0600
//	HOME/history.db   SQLite: friends, pending invites, cursors, seen blobs and messages, 0600
//	HOME/files/       files received with `echorelay inbox`
//
// HOME is --home, else $ECHORELAY_HOME, else ~/.echorelay-client. It is deliberately not the
// relay's data dir: a phone may run a client without a relay, and a Pi a relay without a client.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/echorelay/echorelay/echo/seal"
)

const identityFile = "identity"

func defaultHome() string {
	if h := os.Getenv("ECHORELAY_HOME"); h != "" {
		return h
	}
	if h := userHomeOrEmpty(); h != "" {
		return filepath.Join(h, ".echorelay-client")
	}
	return ".echorelay-client"
}

// readPassphrase reads --passphrase-file's first line, else $ECHORELAY_PASSPHRASE; commands
// that find a protected identity and neither of them ask on the terminal.
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

// client is an opened home: identity and history.
type client struct {
	home string
	id   *seal.Identity
	db   *history
}

// openHome loads the identity and opens the history of a home made by `id new`.
func openHome(home, passFile string) (*client, error) {
	raw, err := os.ReadFile(filepath.Join(home, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, userErr("create one with `echorelay id new --home "+home+"`", "no identity in %s", home)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read identity: %w", err)
	}
	pass, err := readPassphrase(passFile)
	if err != nil {
		return nil, err
	}
	if len(pass) == 0 && seal.IsProtected(raw) {
		pass = promptPassphrase("passphrase for " + home + ": ")
	}
	id, err := seal.ParseIdentity(raw, pass)
	if errors.Is(err, seal.ErrPassphrase) {
		return nil, userErr("type it when asked, set ECHORELAY_PASSPHRASE, or give --passphrase-file FILE", "this identity is protected by a passphrase: %s", err)
	}
	if err != nil {
		return nil, err
	}
	db, err := openHistory(filepath.Join(home, "history.db"))
	if err != nil {
		return nil, err
	}
	return &client{home: home, id: id, db: db}, nil
}

func (c *client) Close() { c.db.Close() }

// homeFlags adds --home and --passphrase-file.
type homeFlags struct{ home, passFile *string }

func addHomeFlags(fs interface {
	String(name, value, usage string) *string
}) homeFlags {
	return homeFlags{
		home:     fs.String("home", defaultHome(), "client home: identity, friends, history (env ECHORELAY_HOME)"),
		passFile: fs.String("passphrase-file", "", "read the identity's passphrase from this file's first line (else env ECHORELAY_PASSPHRASE)"),
	}
}
