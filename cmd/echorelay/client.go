package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo"
	cmdline "github.com/echorelay/echorelay/internal/cli"
	"github.com/echorelay/echorelay/peers"
)

func init() {
	register(command{"put", "submit a blob to a relay and print its ID after the durable ack", cmdPut})
	register(command{"get", "fetch blobs from a relay (all, or those of some mailbox tags) after a cursor", cmdGet})
}

const relayHint = "give the relay as host:port, e.g. --relay 127.0.0.1:7788 (tls://host:port for TCP+TLS)"

func cmdPut(args []string) error {
	fs := newFlags("put", "--relay HOST:PORT [--mailbox HEX64] [--ttl 24h] [FILE]", "Submit FILE (or standard input) as one blob. Prints the blob ID in hex once the relay has\nstored it durably; exits non-zero with the relay's typed error otherwise.")
	relay := fs.String("relay", "", "relay address HOST:PORT (required)")
	mailbox := fs.String("mailbox", "", "mailbox tag, 64 hex characters (default: untagged, for whoever can open it)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long relays keep the blob")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *relay == "" {
		return userErr(relayHint, "--relay is required")
	}
	if fs.NArg() > 1 {
		return userErr("put takes at most one FILE; without it, it reads standard input", "too many arguments")
	}
	var e echo.Envelope
	if *mailbox != "" {
		t, err := echo.ParseTag(*mailbox)
		if err != nil {
			return userErr("a mailbox tag is 64 hex characters (32 bytes)", "--mailbox: %s", err)
		}
		e.Tag = t
	}
	if *ttl <= 0 {
		return userErr("use a positive duration such as 24h", "--ttl %s is not positive", *ttl)
	}
	var err error
	if fs.NArg() == 1 {
		e.Payload, err = os.ReadFile(fs.Arg(0))
	} else {
		e.Payload, err = io.ReadAll(io.LimitReader(os.Stdin, 256<<20))
	}
	if err != nil {
		return fmt.Errorf("failed to read the blob: %w", err)
	}
	e.Expiry = time.Now().Add(*ttl).Unix()
	env, err := e.Marshal()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := peers.DialClient(ctx, *relay)
	if err != nil {
		return err
	}
	defer c.Close()
	id, err := client.PutBlob(ctx, c, env) // stamped when the relay asks
	if err != nil {
		return err
	}
	fmt.Println(id)
	return nil
}

func cmdGet(args []string) error {
	fs := newFlags("get", "--relay HOST:PORT [--mailbox HEX64]... [--since CURSOR] [--out DIR]", "Fetch blobs stored after CURSOR: those of the given mailbox tags, or every blob when no\n--mailbox is given (the relay then learns nothing about what you can open). Each blob's payload\nis written to DIR/ID, or to standard output when there is one blob and no --out. The next\ncursor is printed on standard error as the last line.")
	relay := fs.String("relay", "", "relay address HOST:PORT (required)")
	tags := &cmdline.List[echo.Tag]{Parse: echo.ParseTag}
	fs.Var(tags, "mailbox", "mailbox tag, 64 hex characters; repeat for several")
	since := fs.Uint64("since", 0, "cursor printed by the previous get (0: from the start)")
	out := fs.String("out", "", "directory to write blobs into, one file per blob named by its ID")
	raw := fs.Bool("raw", false, "write whole envelopes instead of payloads")
	max := fs.Int("max", 100000, "stop after this many blobs")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	if *relay == "" {
		return userErr(relayHint, "--relay is required")
	}
	if len(tags.Values) > echo.MaxTagsPerReq {
		return userErr("split the tags over several runs", "at most %d --mailbox tags", echo.MaxTagsPerReq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := peers.DialClient(ctx, *relay)
	if err != nil {
		return err
	}
	defer c.Close()
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("failed to create --out directory: %w", err)
		}
	}
	var blobs [][]byte
	var ids []echo.ID
	cursor, err := client.FetchPages(ctx, c, tags.Values, *since, *max, func(it echo.Item) error {
		id, data, err := client.BlobData(it, *raw)
		if err != nil {
			return err
		}
		if *out == "" {
			blobs, ids = append(blobs, data), append(ids, id)
		} else if err := os.WriteFile(filepath.Join(*out, id.String()), data, 0o644); err != nil {
			return fmt.Errorf("failed to write blob: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if *out == "" {
		switch {
		case len(blobs) == 1:
			os.Stdout.Write(blobs[0])
		case len(blobs) > 1:
			fmt.Fprintf(os.Stderr, "echorelay: %d blobs match; listing their IDs\nhint: give --out DIR to write them to files\n", len(blobs))
			for _, id := range ids {
				fmt.Println(id)
			}
		}
	}
	fmt.Fprintln(os.Stderr, cursor)
	return nil
}
