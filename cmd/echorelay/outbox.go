package main

import (
	"fmt"
	"time"
)

func init() {
	register(command{"outbox", "list the messages waiting for a relay that could not be reached", cmdOutbox})
}

func cmdOutbox(args []string) error {
	fs := newFlags("outbox", "[--home DIR]", "List what `send` could not deliver yet: to whom, since when, its size and the last error.\nThe next send, inbox or inbox --watch retries it.")
	hf := addHomeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return userErr("outbox takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	items, err := cl.Outbox()
	if err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Println("the outbox is empty")
		return nil
	}
	for _, it := range items {
		last := ""
		if it.LastErr != "" {
			last = fmt.Sprintf("; tried %d times, last at %s: %s", it.Tries, it.LastTry.Local().Format(time.DateTime), it.LastErr)
		}
		fmt.Printf("to %s via %s since %s: %s, %d bytes in %d blobs%s\n", printable(it.To), it.Relay,
			it.Created.Local().Format(time.DateTime), printable(it.What), it.Bytes, it.Envelope, printable(last))
	}
	return nil
}
