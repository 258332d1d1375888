package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/qr"
	"github.com/echorelay/echorelay/peers"
	"golang.org/x/term"
)

func init() {
	register(command{"friend", "add a friend without any account (`friend invite`, `friend accept`, `friend list`)", cmdFriend})
}

// inviteTTL is how long an invite's blobs live on the relays: long enough for a friend who
// reads the code tomorrow, short enough that a lost code soon means nothing.
const inviteTTL = 7 * 24 * time.Hour

// maxRateRetries bounds the waits for a relay that answers rate_limited.
const maxRateRetries = 5

// paced runs op, and again after the wait a relay asks for when it answers rate_limited
// (PROTOCOL.md section 9), at most maxRateRetries times; it returns op's last error.
func paced(ctx context.Context, op func() error) error {
	for try := 0; ; try++ {
		err := op()
		var e *echo.Error
		if try >= maxRateRetries || !errors.As(err, &e) || e.Code != echo.CodeRateLimited || e.RetryAfter <= 0 {
			return err
		}
		t := time.NewTimer(e.RetryAfter)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

func cmdFriend(args []string) error {
	return subcommand("friend", args, map[string]func([]string) error{
		"invite": cmdFriendInvite, "accept": cmdFriendAccept, "list": cmdFriendList})
}

// dialRelay connects with a timeout and checks that the relay takes an envelope of n bytes.
func dialRelay(ctx context.Context, addr string) (*peers.Client, error) {
	c, err := peers.DialClient(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func putEnvelope(ctx context.Context, c *peers.Client, tag [32]byte, ttl time.Duration, payload []byte) (echo.ID, error) {
	if max := time.Duration(c.Hello().MaxTTL) * time.Second; max > 0 && ttl > max {
		ttl = max
	}
	e := echo.Envelope{Expiry: time.Now().Add(ttl).Unix(), Tag: tag, Payload: payload}
	env, err := e.Marshal()
	if err != nil {
		return echo.ID{}, err
	}
	if env, err = c.Stamp(ctx, env); err != nil { // when the relay's HELLO asks for one
		return echo.ID{}, err
	}
	if max := int(c.Hello().MaxBlob); len(env) > max {
		return echo.ID{}, tooLarge(len(env), len(payload), max)
	}
	var id echo.ID
	err = paced(ctx, func() (err error) {
		id, _, err = c.Put(ctx, env)
		return err
	})
	if err != nil {
		return id, fmt.Errorf("relay refused the blob: %w", err)
	}
	return id, nil
}

// fetchPaced reads one page through paced.
func fetchPaced(ctx context.Context, c *peers.Client, tags []echo.Tag, cursor uint64) (items []echo.Item, next uint64, more bool, err error) {
	err = paced(ctx, func() (err error) {
		items, next, more, err = c.Fetch(ctx, tags, cursor, 0)
		return err
	})
	return items, next, more, err
}

// fetchAll reads every page after cursor for tags (nil: every blob), bounded by maxItems.
func fetchAll(ctx context.Context, c *peers.Client, tags []echo.Tag, cursor uint64, fn func(echo.Item) error) (uint64, error) {
	const maxPages = 10000
	for page := 0; page < maxPages; page++ {
		items, next, more, err := fetchPaced(ctx, c, tags, cursor)
		if err != nil {
			return cursor, fmt.Errorf("fetch failed: %w", err)
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return cursor, err
			}
		}
		if next > cursor {
			cursor = next
		}
		if !more {
			return cursor, nil
		}
	}
	return cursor, nil
}

func cmdFriendInvite(args []string) error {
	fs := newFlags("friend invite", "--relay HOST:PORT [--name NAME] [--home DIR]", "Make an invite code (and a QR code) for a friend. Your public keys go to the relay sealed\nunder the code, so only someone holding it can read them or answer. Give the code to your\nfriend in person or over a channel you trust; they run `echorelay friend accept CODE --name\nYOU`. Later, `echorelay inbox` completes the exchange and prints the safety number.")
	hf := addHomeFlags(fs)
	relay := fs.String("relay", "", "your relay, HOST:PORT (required; it goes into the code)")
	name := fs.String("name", "", "what to call this friend (default: the name they suggest)")
	as := fs.String("as", "", "the name you suggest to your friend for yourself")
	noQR := fs.Bool("no-qr", false, "print the code only, without the QR code")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *relay == "" {
		return userErr(relayHint, "--relay is required")
	}
	if fs.NArg() > 0 {
		return userErr("friend invite takes only flags", "unexpected argument %q", fs.Arg(0))
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
	if *name != "" && cl.db.nameTaken(*name) {
		return userErr("pick another --name", "you already have a friend called %q", *name)
	}
	inv, err := seal.NewInvite(*relay)
	if err != nil {
		return err
	}
	blob, err := inv.SealInviterBlob(cl.id, *as)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := dialRelay(ctx, *relay)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := putEnvelope(ctx, c, inv.InviterTag(), inviteTTL, blob); err != nil {
		return err
	}
	if err := cl.db.addInvite(inv, *name, time.Now().Add(inviteTTL)); err != nil {
		return err
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
	fmt.Printf("Then run `echorelay inbox` to finish; the invite is valid for %d days.\n", int(inviteTTL/(24*time.Hour)))
	return nil
}

func checkName(name string, optional bool) error {
	if name == "" {
		if optional {
			return nil
		}
		return userErr("give --name NAME, what you call this friend", "--name is required")
	}
	if len(name) > 64 || strings.ContainsAny(name, " \t\r\n/\\\x00") || strings.ContainsFunc(name, hidden) || name == "-" {
		return userErr("use a short name without spaces or slashes, e.g. --name alice", "bad friend name %q", name)
	}
	return nil
}

func cmdFriendAccept(args []string) error {
	fs := newFlags("friend accept", "CODE --name NAME [--relay HOST:PORT] [--home DIR]", "Accept an invite code: fetch your friend's public keys from the relay (checked under the\ncode), send yours back the same way, and store the friend as NAME. Prints the safety number\nthat you and your friend can compare.")
	hf := addHomeFlags(fs)
	name := fs.String("name", "", "what to call this friend (required)")
	relay := fs.String("relay", "", "relay to use instead of the one in the code (e.g. your own, linked to it)")
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
	addr := inv.Relay
	if *relay != "" {
		addr = *relay
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	if cl.db.nameTaken(*name) {
		return userErr("pick another --name", "you already have a friend called %q", *name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait+30*time.Second)
	defer cancel()
	c, err := dialRelay(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	inviter, err := awaitInvite(ctx, c, inv, *wait)
	if err != nil {
		return err
	}
	if inviter.Fingerprint() == cl.id.Fingerprint() {
		return userErr("give the code to your friend; they accept it", "this is your own invite")
	}
	if other, ok := cl.db.friendByFP(inviter.Fingerprint()); ok {
		return userErr("nothing to do", "this invite is from %s, already your friend", other)
	}
	blob, pair, err := inv.SealAcceptorBlob(cl.id, inviter, *as)
	if err != nil {
		return err
	}
	if _, err := putEnvelope(ctx, c, inv.AcceptorTag(), inviteTTL, blob); err != nil {
		return err
	}
	if err := cl.db.addFriend(&friend{name: *name, bundle: inviter, pair: pair, relay: addr}); err != nil {
		return fmt.Errorf("failed to store friend: %w", err)
	}
	fmt.Printf("friend added: %s\n", *name)
	fmt.Printf("safety number: %s\n", seal.SafetyNumber(cl.id.Fingerprint(), inviter.Fingerprint()))
	fmt.Println("Compare it with your friend's (`echorelay friend list`): if it matches, nobody swapped keys.")
	return nil
}

// awaitInvite subscribes to the invite's tag and returns the first blob that opens under the
// code, waiting at most wait for it to arrive.
func awaitInvite(ctx context.Context, c *peers.Client, inv seal.Invite, wait time.Duration) (*seal.Bundle, error) {
	sctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	got := make(chan *seal.Bundle, 1)
	var lastErr error
	err := c.Subscribe(sctx, []echo.Tag{echo.Tag(inv.InviterTag())}, 0, func(it echo.Item) {
		e, err := echo.ParseEnvelope(it.Envelope)
		if err != nil {
			lastErr = err
			return
		}
		b, _, err := inv.OpenInviterBlob(e.Payload)
		if err != nil {
			lastErr = err
			return
		}
		select {
		case got <- b:
		default:
		}
		cancel()
	}, nil)
	select {
	case b := <-got:
		return b, nil
	default:
	}
	if lastErr != nil {
		return nil, fmt.Errorf("the relay holds a blob for this code that does not open: %w", lastErr)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil, userErr("check the relay address (--relay) and that the invite is less than 7 days old; a relay linked to the inviter's gets it within seconds", "no invite for this code reached the relay within %s", wait)
	}
	return nil, fmt.Errorf("waiting for the invite failed: %w", err)
}

func cmdFriendList(args []string) error {
	fs := newFlags("friend list", "[--home DIR]", "List your friends with their relays and safety numbers, and pending invites.")
	hf := addHomeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := openHome(*hf.home, *hf.passFile)
	if err != nil {
		return err
	}
	defer cl.Close()
	fs2, err := cl.db.friends()
	if err != nil {
		return err
	}
	for _, f := range fs2 {
		fmt.Printf("%s\trelay %s\tsafety number %s\n", f.name, f.relay, seal.SafetyNumber(cl.id.Fingerprint(), f.bundle.Fingerprint()))
	}
	pend, err := cl.db.invites()
	if err != nil {
		return err
	}
	for _, p := range pend {
		fmt.Printf("(invite pending on %s until %s; run `echorelay inbox` to complete it)\n", p.inv.Relay, p.expires.Format("2006-01-02"))
	}
	if len(fs2) == 0 && len(pend) == 0 {
		fmt.Println("no friends yet: `echorelay friend invite --relay HOST:PORT`")
	}
	return nil
}
