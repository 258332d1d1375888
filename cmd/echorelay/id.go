package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/mceliece/hybrid"
)

func init() {
	register(command{"id", "create or show your messaging identity (`id new`, `id show`)", cmdID})
}

// parseInterspersed parses flags that may come after positional arguments (`accept CODE
// --name X`) and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for i := 0; i < 64; i++ { // at most 64 positionals: bounded
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return nil, userErr("too many arguments", "too many arguments")
}

func subcommand(name string, args []string, subs map[string]func([]string) error) error {
	keys := make([]string, 0, len(subs))
	for k := range subs {
		keys = append(keys, k)
	}
	hint := fmt.Sprintf("use `echorelay %s %s`", name, strings.Join(sortStrings(keys), "|"))
	if len(args) == 0 {
		return userErr(hint, "%s needs a subcommand", name)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		// `echorelay id --help` is a question, not a subcommand: list the subcommands, each
		// of which explains its own flags with --help.
		fmt.Fprintf(os.Stdout, "usage: echorelay %s %s [flags]\n\n`echorelay %s SUBCOMMAND --help` explains each one's flags.\n",
			name, strings.Join(sortStrings(keys), "|"), name)
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return userErr(hint, "unknown subcommand %q", name+" "+args[0])
	}
	return run(args[1:])
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func cmdID(args []string) error {
	return subcommand("id", args, map[string]func([]string) error{"new": cmdIDNew, "show": cmdIDShow})
}

func cmdIDNew(args []string) error {
	fs := newFlags("id new", "[--home DIR] [--protect]", "Create your identity: a hybrid KEM key pair (Classic McEliece 6688128f + ML-KEM-768 +\nX25519) and two signing key pairs (Ed25519 + ML-DSA-65), stored in HOME/identity (0600).\nNo phone number, e-mail or account. Prints your short ID.")
	hf := addHomeFlags(fs)
	protect := fs.Bool("protect", false, "encrypt the identity under a passphrase (Argon2id): asked on the terminal, or from ECHORELAY_PASSPHRASE or --passphrase-file")
	kemName := fs.String("kem", "mceliece6688128f", "Classic McEliece parameter set of the hybrid KEM (advanced; smaller sets make smaller keys)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return userErr("id new takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	scheme := hybrid.New(*kemName)
	if scheme == nil {
		return userErr("the default is mceliece6688128f", "unknown McEliece set %q", *kemName)
	}
	path := filepath.Join(*hf.home, identityFile)
	if _, err := os.Stat(path); err == nil {
		return userErr("each home holds one identity; use another --home, or delete "+path+" (your friends would have to invite you again)", "an identity already exists in %s", *hf.home)
	}
	var pass []byte
	if *protect {
		var err error
		if pass, err = readPassphrase(*hf.passFile); err != nil {
			return err
		}
		if len(pass) == 0 {
			if pass = promptPassphrase("new passphrase: "); len(pass) > 0 {
				if again := promptPassphrase("the same again: "); string(again) != string(pass) {
					return userErr("type the same passphrase twice", "the passphrases differ")
				}
			}
		}
		if len(pass) == 0 {
			return userErr("type one when asked, set ECHORELAY_PASSPHRASE, or give --passphrase-file FILE", "--protect needs a passphrase")
		}
	}
	if err := os.MkdirAll(*hf.home, 0o700); err != nil {
		return fmt.Errorf("failed to create home: %w", err)
	}
	if err := os.Chmod(*hf.home, 0o700); err != nil {
		return err
	}
	id, err := seal.GenerateIdentity(scheme)
	if err != nil {
		return err
	}
	raw, err := id.Marshal(pass)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("failed to write identity: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("failed to write identity: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to write identity: %w", err)
	}
	db, err := openHistory(filepath.Join(*hf.home, "history.db"))
	if err != nil {
		return err
	}
	db.Close()
	printIdentity(id, *hf.home)
	fmt.Println("next: invite a friend with `echorelay friend invite --relay HOST:PORT`, or accept their code with `echorelay friend accept CODE --name NAME`")
	return nil
}

func printIdentity(id *seal.Identity, home string) {
	fmt.Printf("identity: %s\n", home)
	fmt.Printf("short ID: %s\n", seal.ShortID(id.Fingerprint()))
	fmt.Printf("fingerprint: %s\n", id.Fingerprint())
	fmt.Printf("kem: %s, signatures: Ed25519 + ML-DSA-65\n", hybrid.ByID(id.Bundle().KEMID()).Name())
}

func cmdIDShow(args []string) error {
	fs := newFlags("id show", "[--home DIR]", "Print your short ID and fingerprint.")
	hf := addHomeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer c.Close()
	printIdentity(c.id, *hf.home)
	return nil
}
