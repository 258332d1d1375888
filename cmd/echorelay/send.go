package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/echorelay/echorelay/client"
)

func init() {
	register(command{"send", "send a sealed message or file to a friend through the relay", cmdSend})
}

func cmdSend(args []string) error {
	fs := newFlags("send", "NAME [FILE|-] [-m TEXT] [--home DIR]", "Send to the friend or group NAME: the text of -m, or FILE as a file (chunked when larger\nthan a blob, at most 64 MiB), or standard input as text with `-` or no FILE. Messages go over\nthe conversation's post-quantum ratchet (the first one sealed to your friend's keys and\nsigned), padded; the relay sees a mailbox tag that keeps changing. When the relay cannot be\nreached the message waits in the outbox (`echorelay outbox`) and goes with your next send\nor inbox.")
	hf := addHomeFlags(fs)
	text := fs.String("m", "", "the message text")
	relay := fs.String("relay", "", "relay to use instead of the one stored for this friend")
	ttl := fs.Duration("ttl", client.DefaultTTL, "how long relays keep the message (at most the relay's limit)")
	untagged := fs.Bool("untagged", false, "send without a mailbox tag: your friend finds it only with 'echorelay inbox --all'")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return userErr("usage: echorelay send NAME [FILE|-] or echorelay send NAME -m TEXT", "send takes a friend's name and at most one FILE")
	}
	if *ttl <= 0 {
		return userErr("use a positive duration such as 24h", "--ttl %s is not positive", *ttl)
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := cl.Recipient(pos[0]); err != nil {
		return clientErr(err)
	}
	var content []byte
	fileName := ""
	switch {
	case *text != "" && len(pos) == 2:
		return userErr("give either -m TEXT or FILE", "both -m and a file given")
	case *text != "":
		content = []byte(*text)
	case len(pos) == 2 && pos[1] != "-":
		if fileName, content, err = client.ReadFile(pos[1]); err != nil {
			return err
		}
	default:
		if content, err = client.ReadText(os.Stdin); err != nil {
			return err
		}
	}
	if fileName == "" && len(content) == 0 {
		return userErr("write the text after -m, pipe it in, or give a FILE", "nothing to send")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, toGroup, err := cl.SendTo(ctx, pos[0], fileName, content, client.SendOptions{Relay: *relay, TTL: *ttl, Untagged: *untagged})
	if errors.Is(err, client.ErrTooLarge) && fileName == "" && !toGroup {
		return userErr("send it as a file: echorelay send NAME FILE", "%s", err)
	}
	if err != nil {
		return clientErr(err)
	}
	printEvents(res.Events)
	switch {
	case toGroup && fileName == "":
		fmt.Printf("sent to the group %s\n", printable(res.To))
	case toGroup:
		fmt.Printf("sent %s (%d bytes, %d chunks) to the group %s\n", fileName, len(content), res.Chunks, printable(res.To))
	case res.Queued:
		fmt.Fprintf(os.Stderr, "echorelay: could not reach the relay (%s)\n", res.Err)
		fmt.Printf("saved in the outbox; it is sent with your next send or inbox\n")
	case fileName == "":
		fmt.Printf("sent to %s\n", res.To)
	default:
		fmt.Printf("sent %s (%d bytes, %d chunks) to %s\n", fileName, len(content), res.Chunks, res.To)
	}
	return nil
}
