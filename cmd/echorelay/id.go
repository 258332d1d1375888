package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/echorelay/echorelay/client/home"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/mceliece/hybrid"
)

func init() {
	register(command{"id", "create or show your messaging identity (`id new`, `id show`)", cmdID})
}

func cmdID(args []string) error {
	return subcommand("id", args, map[string]func([]string) error{"new": cmdIDNew, "show": cmdIDShow})
}

func cmdIDNew(args []string) error {
	fs := newFlags("id new", "[--home DIR] [--no-passphrase]", "Create your identity: a hybrid KEM key pair (Classic McEliece 6688128f + ML-KEM-768 +\nX25519) and two signing key pairs (Ed25519 + ML-DSA-65), stored in HOME/identity (0600).\nNo phone number, e-mail or account. Prints your short ID.\n\nThe identity is protected by a passphrase (Argon2id), asked twice on the terminal; it also\nencrypts history.db (friends, messages, invites). Without a terminal give --passphrase-file\nFILE, or --no-passphrase (or env ECHORELAY_NO_PASSPHRASE=1) for an unprotected identity.")
	hf := addHomeFlags(fs)
	fs.Bool("protect", true, "protect the identity with a passphrase (the default; kept for old scripts)")
	noPass := fs.Bool("no-passphrase", false, "store the identity without a passphrase: anyone who can read HOME can read your messages")
	kemName := fs.String("kem", "mceliece6688128f", "Classic McEliece parameter set of the hybrid KEM (advanced; smaller sets make smaller keys)")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	scheme := hybrid.New(*kemName)
	if scheme == nil {
		return userErr("the default is mceliece6688128f", "unknown McEliece set %q", *kemName)
	}
	if _, err := home.ReadIdentityFile(*hf.home); err == nil {
		return userErr("each home holds one identity; use another --home, or delete "+filepath.Join(*hf.home, home.IdentityFile)+" (your friends would have to invite you again)", "an identity already exists in %s", *hf.home)
	}
	pass, err := newPassphrase(*hf.passFile, *noPass)
	if err != nil {
		return err
	}
	id, err := home.Create(*hf.home, scheme, pass)
	if errors.Is(err, home.ErrExists) {
		return userErr("use another --home", "%s", err)
	}
	if err != nil {
		return err
	}
	printIdentity(id, *hf.home)
	if len(pass) == 0 {
		fmt.Fprintln(os.Stderr, "echorelay: the identity has no passphrase: anyone who can read "+*hf.home+" can read your messages")
	}
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
	printIdentity(c.Identity(), *hf.home)
	return nil
}
