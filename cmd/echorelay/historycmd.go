package main

import (
	"fmt"
	"time"
)

func init() {
	register(command{"history", "show past messages, with everybody or with one friend", cmdHistory})
}

func cmdHistory(args []string) error {
	fs := newFlags("history", "[NAME] [--last N] [--home DIR]", "Show the messages stored in HOME/history.db, oldest first: all of them, or those with NAME.")
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
		if !cl.db.nameTaken(who) {
			return userErr("see `echorelay friend list`", "no friend called %q", who)
		}
	}
	rows, err := cl.db.db.Query(`SELECT friend, dir, sent_ms, kind, body FROM (
		SELECT n, friend, dir, sent_ms, kind, body FROM messages WHERE ? = '' OR friend = ?
		ORDER BY sent_ms DESC, n DESC LIMIT ?) ORDER BY sent_ms, n`, who, who, *last)
	if err != nil {
		return fmt.Errorf("failed to read history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var friend, dir, kind string
		var ms int64
		var body []byte
		if err := rows.Scan(&friend, &dir, &ms, &kind, &body); err != nil {
			return err
		}
		who := friend + ": "
		if dir == "out" {
			who = "me → " + friend + ": "
		}
		text := printable(string(body))
		if kind == "file" {
			text = "file " + text
		}
		fmt.Printf("[%s] %s%s\n", time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05"), who, text)
	}
	return rows.Err()
}
