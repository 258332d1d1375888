package main

import (
	"fmt"
	"time"

	"github.com/echorelay/echorelay/internal/admin"
)

func init() {
	register(command{"reload", "re-read a running relay's peers file and say what came of it", cmdReload})
}

func cmdReload(args []string) error {
	fs := newFlags("reload", "[--data DIR]", "Make the relay of DATA re-read its peers file (as SIGHUP does) and print the result: the\nnumber of neighbours, or the error that kept the old list. Unlike `kill -HUP $(pidof\nechorelay)` it signals only that relay, not other echorelay commands such as `inbox --watch`.")
	rf := addRelayFlags(fs)
	wait := fs.Duration("timeout", 10*time.Second, "how long to wait for the relay to report the reload")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	addr, tok, body, err := rf.reach()
	if err != nil {
		return err
	}
	before, err := parseStatus(body)
	if err != nil {
		return err
	}
	pf, err := admin.Reload(addr, tok, "echorelay/"+version, *rf.data, before, *wait)
	if err != nil {
		return err
	}
	fmt.Printf("peers file %s reloaded: %s\n", pf.Path, admin.Plural(pf.Neighbours, "neighbour", "neighbours"))
	return nil
}
