package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/client"
)

func init() {
	register(command{"inbox", "fetch, open and verify messages from your friends; finish pending invites", cmdInbox})
}

func cmdInbox(args []string) error {
	fs := newFlags("inbox", "[--home DIR] [--all]", "Send what waits in the outbox, then fetch every current and recent mailbox tag of every\nfriend from your relays (resuming where the last run stopped), open and verify what arrived,\nand print new messages in order. Files are written to HOME/files/. Blobs that are tampered,\nreplayed, misaddressed or dated outside the relays' lifetime are rejected with a reason on\nstandard error. Pending invites are completed.")
	hf := addHomeFlags(fs)
	all := fs.Bool("all", false, "fetch every blob on the relay and try to open each (the relay learns nothing about what you read)")
	relay := fs.String("relay", "", "use this relay for every friend instead of the stored ones")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long (the first pass, with --watch)")
	watch := fs.Bool("watch", false, "after reading, stay connected and print messages as they arrive, until Ctrl-C")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return userErr("inbox takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	if *watch && *all {
		return userErr("use one of them", "--watch and --all do not go together")
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := cl.Receive(ctx, client.ReceiveOptions{All: *all, Relay: *relay})
	if err != nil {
		return err
	}
	printEvents(res.Events)
	if res.Shown() == 0 && !*watch {
		// "No new messages" is only true of relays that answered: with none answering it
		// would contradict the error below (issue #18 item 10).
		switch {
		case len(res.Failed) == 0:
			fmt.Fprintln(os.Stderr, "no new messages")
		case res.Answered > 0:
			fmt.Fprintln(os.Stderr, "no new messages on the relays that answered")
		}
	}
	if err := res.FailedErr(); err != nil {
		return err
	}
	if !*watch {
		return nil
	}
	sctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(os.Stderr, "watching for new messages; Ctrl-C to stop")
	err = cl.Watch(sctx, *relay, func(e client.Event) { printEvents([]client.Event{e}) })
	if err == client.ErrNothingToWatch {
		return userErr("add a friend first with `echorelay friend invite` or `friend accept`", "nobody to watch for")
	}
	return err
}

// printEvents prints events: what a friend sent on standard output, notices (rejections, the
// outbox, gaps, resets) on standard error; client's events say themselves what they are.
func printEvents(evs []client.Event) {
	for _, e := range evs {
		out := os.Stdout
		if client.IsNotice(e) {
			out = os.Stderr
		}
		fmt.Fprintln(out, e)
	}
}

// printable is client.Printable: what a friend wrote, made safe for a terminal.
var printable = client.Printable
