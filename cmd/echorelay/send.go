package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/echorelay/echorelay/echo/seal"
)

func init() {
	register(command{"send", "send a sealed message or file to a friend through the relay", cmdSend})
}

// envelopeReserve is what an envelope adds around a payload: its fixed header plus room for
// the largest proof-of-work stamp.
const envelopeReserve = 47 + 32

// maxSendFile bounds what `send` reads into memory and puts under one day's mailbox tag:
// relays keep at most 64 MiB per mailbox by default (--mailbox-quota).
const maxSendFile = 48 << 20

func cmdSend(args []string) error {
	fs := newFlags("send", "NAME [FILE|-] [-m TEXT] [--home DIR]", "Send to the friend NAME: the text of -m, or FILE as a file (chunked when larger than a\nblob), or standard input as text with `-` or no FILE. Each message is signed, padded and\nsealed to your friend's keys; the relay sees a mailbox tag that changes every day.")
	hf := addHomeFlags(fs)
	text := fs.String("m", "", "the message text")
	relay := fs.String("relay", "", "relay to use instead of the one stored for this friend")
	ttl := fs.Duration("ttl", 7*24*time.Hour, "how long relays keep the message (at most the relay's limit)")
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
	friends, err := cl.db.friends()
	if err != nil {
		return err
	}
	var to *friend
	for _, f := range friends {
		if f.name == pos[0] {
			to = f
		}
	}
	if to == nil {
		return userErr("see `echorelay friend list`, or add them with `echorelay friend invite`", "no friend called %q", pos[0])
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
	addr := to.relay
	if *relay != "" {
		addr = *relay
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := dialRelay(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	kemID := to.bundle.KEMID()
	maxContent := seal.MaxContent(kemID, int(c.Hello().MaxBlob)-envelopeReserve)
	if maxContent <= seal.FileChunkOverhead(seal.MaxNameLen) {
		return fmt.Errorf("the relay's largest blob (%d bytes) is too small for a sealed message", c.Hello().MaxBlob)
	}

	now := time.Now()
	var tag [32]byte
	if !*untagged {
		tag = seal.MailboxTag(to.pair, cl.id.Fingerprint(), seal.Epoch(now))
	}
	send := func(typ seal.ContentType, body []byte) error {
		payload, _, err := seal.Seal(cl.id, to.bundle, typ, body, time.Now())
		if err != nil {
			return err
		}
		_, err = putEnvelope(ctx, c, tag, *ttl, payload)
		return err
	}

	if fileName == "" {
		if len(content) > maxContent {
			return userErr("send it as a file: echorelay send NAME FILE", "the text is %d bytes; one message holds at most %d", len(content), maxContent)
		}
		if err := send(seal.TypeText, content); err != nil {
			return err
		}
		if err := cl.db.addMessage(to.name, "out", now, "text", content); err != nil {
			return err
		}
		fmt.Printf("sent to %s\n", to.name)
		return nil
	}

	per := maxContent - seal.FileChunkOverhead(len(fileName))
	count := max(1, (len(content)+per-1)/per)
	ch := seal.FileChunk{Count: uint32(count), Size: uint64(len(content)), Name: fileName}
	if _, err := rand.Read(ch.FileID[:]); err != nil {
		return err
	}
	for i := 0; i < count; i++ {
		ch.Index = uint32(i)
		ch.Data = content[i*per : min(len(content), (i+1)*per)]
		if err := send(seal.TypeFile, ch.Marshal()); err != nil {
			return fmt.Errorf("chunk %d of %d: %w", i+1, count, err)
		}
	}
	if err := cl.db.addMessage(to.name, "out", now, "file", []byte(fileName)); err != nil {
		return err
	}
	fmt.Printf("sent %s (%d bytes, %d chunks) to %s\n", fileName, len(content), count, to.name)
	return nil
}
