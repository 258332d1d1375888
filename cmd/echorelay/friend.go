package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/internal/qr"
	"github.com/echorelay/echorelay/peers"
	"golang.org/x/term"
)

func init() {
	register(command{"friend", "add a friend without any account (`friend invite`, `friend accept`, `friend list`, remove, rename, block)", cmdFriend})
}

func cmdFriend(args []string) error {
	return subcommand("friend", args, map[string]func([]string) error{
		"invite": cmdFriendInvite, "accept": cmdFriendAccept, "list": cmdFriendList,
		"remove": cmdFriendRemove, "rename": cmdFriendRename,
		"block": func(a []string) error { return cmdFriendBlock(a, true) }, "unblock": func(a []string) error { return cmdFriendBlock(a, false) }})
}

// clientErr gives one of the client's errors its hint (client.Hint): one line and a hint.
func clientErr(err error) error {
	if h := client.Hint(err); h != "" && hint.Of(err) == "" {
		return hint.Wrap(h, err)
	}
	return err
}

func checkName(name string, optional bool) error {
	if name == "" && optional {
		return nil
	}
	if name == "" {
		return userErr("give --name NAME, what you call this friend", "--name is required")
	}
	return clientErr(client.CheckName(name))
}

func cmdFriendInvite(args []string) error {
	fs := newFlags("friend invite", "--relay HOST:PORT [--name NAME] [--home DIR]", "Make an invite code (and a QR code) for a friend. Your public keys go to the relay sealed\nunder the code, so only someone holding it can read them or answer. Give the code to your\nfriend in person or over a channel you trust; they run `echorelay friend accept CODE --name\nYOU`. Later, `echorelay inbox` completes the exchange and prints the safety number. A code\nworks once: a second answer is refused and reported.")
	hf := addHomeFlags(fs)
	relay := fs.String("relay", "", "your relay, HOST:PORT (required; it goes into the code with its key fingerprint, and your friend sends to you there)")
	name := fs.String("name", "", "what to call this friend (default: the name they suggest)")
	as := fs.String("as", "", "the name you suggest to your friend for yourself")
	noQR := fs.Bool("no-qr", false, "print the code only, without the QR code")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	if *relay == "" {
		return userErr(relayHint, "--relay is required")
	}
	if err := checkName(*name, true); err != nil {
		return err
	}
	if _, err := peers.ParsePeer(*relay); err != nil {
		return userErr(relayHint, "--relay: %s", err)
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	inv, err := cl.Invite(ctx, *relay, *name, *as)
	if err != nil {
		return clientErr(err)
	}
	code := inv.Code()
	if !*noQR {
		if q, err := qr.Encode([]byte(code)); err == nil {
			// Colours only for a terminal: in a file or pipe the escapes are noise (#18 item 6).
			if term.IsTerminal(int(os.Stdout.Fd())) {
				fmt.Print(q.Terminal())
			} else {
				fmt.Print(q.Text())
			}
		} else {
			fmt.Fprintf(os.Stderr, "echorelay: no QR code: %s\n", err)
		}
	}
	fmt.Printf("invite code: %s\n", code)
	fmt.Printf("Your friend runs: echorelay friend accept %s --name NAME\n", code)
	fmt.Printf("Then run `echorelay inbox` to finish; the invite is valid for %d days.\n", int(client.InviteTTL/(24*time.Hour)))
	return nil
}

func cmdFriendAccept(args []string) error {
	fs := newFlags("friend accept", "CODE --name NAME [--relay HOST:PORT] [--home DIR]", "Accept an invite code: fetch your friend's public keys from the relay (checked under the\ncode), send yours back the same way, and store the friend as NAME. Prints the safety number\nthat you and your friend can compare. A code somebody answered already is refused.")
	hf := addHomeFlags(fs)
	name := fs.String("name", "", "what to call this friend (required)")
	relay := fs.String("relay", "", "your relay, to answer through instead of the one in the code (linked to it); your friend sends to you there")
	as := fs.String("as", "", "the name you suggest to your friend for yourself")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the invite to reach the relay")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return userErr("usage: echorelay friend accept CODE --name NAME", "friend accept takes exactly one invite code")
	}
	if err := checkName(*name, false); err != nil {
		return err
	}
	inv, err := seal.ParseInviteCode(pos[0])
	if err != nil {
		return userErr("copy the whole code again; it is checked for typos", "%s", err)
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *wait+30*time.Second)
	defer cancel()
	f, err := cl.Accept(ctx, inv, client.AcceptOptions{Name: *name, As: *as, Relay: *relay, Wait: *wait})
	if err != nil {
		return clientErr(err)
	}
	fmt.Printf("friend added: %s\n", f.Name)
	fmt.Printf("safety number: %s\n", cl.SafetyNumber(f))
	fmt.Println("Compare it with your friend's (`echorelay friend list`): if it matches, nobody swapped keys.")
	return nil
}

func cmdFriendList(args []string) error {
	fs := newFlags("friend list", "[--home DIR]", "List your friends with their relays (where you send to them) and safety numbers, and\npending invites.")
	hf := addHomeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	friends, err := cl.Friends()
	if err != nil {
		return err
	}
	for _, f := range friends {
		blocked := ""
		if f.Blocked {
			blocked = "\tblocked"
		}
		fmt.Printf("%s\trelay %s\tsafety number %s%s\n", printable(f.Name), printable(f.TheirRelay), cl.SafetyNumber(f), blocked)
	}
	pend, err := cl.PendingInvites()
	if err != nil {
		return err
	}
	for _, p := range pend {
		fmt.Printf("(invite pending on %s until %s; run `echorelay inbox` to complete it)\n", p.Invite.Relay, p.Expires.Format("2006-01-02"))
	}
	if len(friends) == 0 && len(pend) == 0 {
		fmt.Println("no friends yet: `echorelay friend invite --relay HOST:PORT`")
	}
	return nil
}

func cmdFriendRemove(args []string) error {
	return homeCmd("friend", "remove", "NAME", "Forget a friend: their keys and relays. Your history with them stays.", 1, 1, args, func(_ context.Context, cl *client.Client, p []string) error {
		if err := cl.RemoveFriend(p[0]); err != nil {
			return err
		}
		fmt.Printf("removed %s; to talk again, exchange a new invite\n", p[0])
		return nil
	})
}

func cmdFriendRename(args []string) error {
	return homeCmd("friend", "rename", "OLD NEW", "Call a friend by another name.", 2, 2, args, func(_ context.Context, cl *client.Client, p []string) error {
		if err := cl.RenameFriend(p[0], p[1]); err != nil {
			return err
		}
		fmt.Printf("renamed %s to %s\n", p[0], p[1])
		return nil
	})
}

func cmdFriendBlock(args []string, block bool) error {
	verb, summary := "block", "Drop everything a friend sends, silently; `friend unblock NAME` undoes it."
	if !block {
		verb, summary = "unblock", "Read a blocked friend's messages again (those sent while blocked are not fetched again)."
	}
	return homeCmd("friend", verb, "NAME", summary, 1, 1, args, func(_ context.Context, cl *client.Client, p []string) error {
		if err := cl.BlockFriend(p[0], block); err != nil {
			return err
		}
		fmt.Printf("%sed %s\n", verb, p[0])
		return nil
	})
}
