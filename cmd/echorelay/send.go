package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
)

func init() {
	register(command{"send", "send a sealed message or file to a friend through the relay", cmdSend})
}

// maxSendFile bounds what `send` reads into memory and puts under one day's mailbox tag:
// relays keep at most 64 MiB per mailbox by default (--mailbox-quota).
const maxSendFile = client.MaxFile

func cmdSend(args []string) error {
	fs := newFlags("send", "NAME [FILE|-] [-m TEXT] [--home DIR]", "Send to the friend NAME: the text of -m, or FILE as a file (chunked when larger than a\nblob), or standard input as text with `-` or no FILE. Each message is signed, padded and\nsealed to your friend's keys; the relay sees a mailbox tag that changes every day. When the\nrelay cannot be reached the message waits in the outbox (`echorelay outbox`) and goes with\nyour next send or inbox.")
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
	toGroup := isGroup(cl, pos[0]) // group.go
	if _, err := cl.Friend(pos[0]); err != nil && !toGroup {
		return friendErr(err)
	}
	var content []byte
	fileName := ""
	switch {
	case *text != "" && len(pos) == 2:
		return userErr("give either -m TEXT or FILE", "both -m and a file given")
	case *text != "":
		content = []byte(*text)
	case len(pos) == 2 && pos[1] != "-":
		fileName = filepath.Base(pos[1])
		if !seal.SafeName(fileName) {
			return userErr("rename the file", "file name %q cannot be sent", fileName)
		}
		st, err := os.Stat(pos[1])
		if err != nil {
			return fmt.Errorf("failed to read the file: %w", err)
		}
		if st.Size() > maxSendFile {
			return userErr("split it, or share it another way: relays keep at most 64 MiB per mailbox and day", "%s is %d bytes; send takes at most %d", pos[1], st.Size(), maxSendFile)
		}
		if content, err = os.ReadFile(pos[1]); err != nil {
			return fmt.Errorf("failed to read the file: %w", err)
		}
	default:
		if content, err = io.ReadAll(io.LimitReader(os.Stdin, maxSendFile)); err != nil {
			return fmt.Errorf("failed to read standard input: %w", err)
		}
		if !utf8.Valid(content) {
			return userErr("send binary data as a file: echorelay send NAME FILE", "standard input is not UTF-8 text")
		}
		content = bytes.TrimSuffix(content, []byte("\n")) // the newline that ends a typed line
	}
	if fileName == "" && len(content) == 0 {
		return userErr("write the text after -m, pipe it in, or give a FILE", "nothing to send")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if toGroup {
		return sendToGroup(ctx, cl, pos[0], fileName, content)
	}
	o := client.SendOptions{Relay: *relay, TTL: *ttl, Untagged: *untagged}
	var res *client.SendResult
	if fileName == "" {
		res, err = cl.SendText(ctx, pos[0], string(content), o)
	} else {
		res, err = cl.SendFile(ctx, pos[0], fileName, content, o)
	}
	if errors.Is(err, client.ErrTooLarge) && fileName == "" {
		return userErr("send it as a file: echorelay send NAME FILE", "%s", err)
	}
	if err != nil {
		return friendErr(err)
	}
	printEvents(res.Events)
	switch {
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
