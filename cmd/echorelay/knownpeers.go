package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/echorelay/echorelay/peers"
)

func init() {
	register(command{"trust", "accept the new key of an unpinned neighbour, forget its key, or list the keys pinned on first use", cmdTrust})
}

func cmdTrust(args []string) error {
	fs := newFlags("trust", "[--data DIR] HOST:PORT FINGERPRINT | --forget HOST:PORT | --list",
		"A peers-file line without a fingerprint is pinned to the key its relay first presents\n(DATA/known_peers); a relay that later answers it with another key is refused, and the log\nnames both keys. When the neighbour's key really changed (a reinstall), give the line's\nHOST:PORT and the new FINGERPRINT; --forget lets the next dial of the line pin again. Then run\n`echorelay reload` so that a running relay uses it.")
	data := fs.String("data", defaultDataDir(), "data directory of the relay")
	forget := fs.Bool("forget", false, "forget the key pinned for HOST:PORT")
	list := fs.Bool("list", false, "list the keys pinned on first use")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	want := 2
	if *forget {
		want = 1
	} else if *list {
		want = 0
	}
	if fs.NArg() != want || *forget && *list {
		return userErr("run `echorelay trust --help`", "want HOST:PORT FINGERPRINT, --forget HOST:PORT or --list")
	}
	path := filepath.Join(*data, peers.KnownPeersName)
	k, err := peers.OpenKnownPeers(path)
	if err != nil {
		return userErr("fix or delete the line it names", "%s", err)
	}
	switch {
	case *list:
		for _, p := range k.List() {
			fmt.Printf("%s  %s  since %s\n", p.Addr, p.Fingerprint, p.Since.Format(time.DateOnly))
		}
		return nil
	case *forget:
		ok, err := k.Forget(fs.Arg(0))
		if err != nil {
			return err
		}
		if !ok {
			return userErr("`echorelay trust --list` shows the lines pinned", "no key is pinned for %s in %s", fs.Arg(0), path)
		}
		fmt.Printf("forgot the key of %s: the next connection pins it again\n", fs.Arg(0))
	default:
		if err := k.Accept(fs.Arg(0), fs.Arg(1), time.Now()); err != nil {
			return userErr("give the line's HOST:PORT as the peers file writes it and the 64 hex digits the log or `echorelay fingerprint` shows", "%s", err)
		}
		fmt.Printf("%s is pinned to %s\n", fs.Arg(0), k.Key(fs.Arg(0)))
	}
	fmt.Println("run `echorelay reload` so that a running relay uses it")
	return nil
}
