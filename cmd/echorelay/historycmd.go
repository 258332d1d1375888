package main

import (
	"fmt"

	"github.com/echorelay/echorelay/echo/seal"
)

func init() {
	register(command{"history", "show past messages, with everybody or with one friend", cmdHistory})
}

func cmdHistory(args []string) error {
	fs := newFlags("history", "[NAME] [--last N] [--home DIR]", "Show the messages stored in HOME/history.db (encrypted under your identity), oldest first:\nall of them, or those with NAME.")
	hf := addHomeFlags(fs)
	last := fs.Int("last", 50, "show at most this many of the most recent messages")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return userErr("usage: echorelay history [NAME]", "history takes at most one friend's name")
	}
	if *last <= 0 {
		return userErr("use a positive number", "--last %d is not positive", *last)
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	who := ""
	if len(pos) == 1 {
		who = pos[0]
	}
	hs, err := cl.History(who, *last)
	if err != nil {
		return clientErr(err)
	}
	for _, m := range hs {
		name := m.Name
		if name == "" {
			name = "(removed " + seal.ShortID(m.Friend)[:11] + ")"
		}
		prefix := printable(name) + ": "
		switch {
		case m.Group != "" && m.Out: // a group's message (client.HistoryEntry.Group)
			prefix = "me in " + printable(m.Group) + ": "
		case m.Group != "":
			prefix = printable(m.From) + " in " + printable(m.Group) + ": "
		case m.Out:
			prefix = "me → " + printable(name) + ": "
		}
		text := printable(string(m.Body))
		if m.Kind == "file" {
			text = "file " + text
		}
		fmt.Printf("[%s] %s%s\n", m.Time.Local().Format("2006-01-02 15:04:05"), prefix, text)
	}
	return nil
}
