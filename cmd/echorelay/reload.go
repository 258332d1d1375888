package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return userErr("reload takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	addr, tok, body, err := rf.reach()
	if err != nil {
		return err
	}
	before, err := parseStatus(body)
	if err != nil {
		return err
	}
	// A signal goes to a process on this computer: the admin listener must be local.
	if host, _, _ := net.SplitHostPort(addr); !isLoopbackHost(addr) || before.Pid <= 0 {
		return userErr("run reload on the relay's computer", "the relay at %s is not on this computer (%s)", addr, host)
	}
	p, err := os.FindProcess(before.Pid)
	if err == nil {
		err = p.Signal(syscall.SIGHUP)
	}
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) {
		return userErr("run it as the relay's user (e.g. sudo -u echorelay echorelay reload --data "+*rf.data+"), or systemctl reload echorelay", "not allowed to signal the relay (pid %d)", before.Pid)
	}
	if err != nil {
		return fmt.Errorf("failed to signal the relay (pid %d): %w", before.Pid, err)
	}
	deadline := time.Now().Add(*wait)
	for {
		body, err := fetchStatus(addr, tok)
		if err != nil {
			return err
		}
		after, err := parseStatus(body)
		if err != nil {
			return err
		}
		if pf := after.PeersFile; pf.Attempts > before.PeersFile.Attempts {
			if pf.Error != "" {
				return userErr("fix the file, then run echorelay reload again; the relay keeps the neighbours it had",
					"peers file %s not applied: %s", pf.Path, pf.Error)
			}
			fmt.Printf("peers file %s reloaded: %s\n", pf.Path, admin.Plural(pf.Neighbours, "neighbour", "neighbours"))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the relay (pid %d) did not report a reload within %v", before.Pid, *wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
