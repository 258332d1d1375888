package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/peers"
)

func init() {
	register(command{"inbox", "fetch, open and verify messages from your friends; finish pending invites", cmdInbox})
}

// event is one thing to print, in the senders' time order.
type event struct {
	at   time.Time
	seq  int
	line string
}

type inbox struct {
	cl      *client
	ctx     context.Context
	conns   map[string]*peers.Client
	friends []*friend
	events  []event
	rejects int
	failed  map[string]error // relay address -> why it could not be read
	now     time.Time
}

func cmdInbox(args []string) error {
	fs := newFlags("inbox", "[--home DIR] [--all]", "Fetch every current and recent mailbox tag of every friend from their relays (resuming\nwhere the last run stopped), open and verify what arrived, and print new messages in order.\nFiles are written to HOME/files/. Blobs that are tampered, replayed or misaddressed are\nrejected with a reason on standard error. Pending invites are completed.")
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
	in := &inbox{cl: cl, ctx: ctx, conns: map[string]*peers.Client{}, failed: map[string]error{}, now: time.Now()}
	defer func() {
		for _, c := range in.conns {
			c.Close()
		}
	}()
	override := func(addr string) string {
		if *relay != "" {
			return *relay
		}
		return addr
	}
	if err := in.finishInvites(override); err != nil {
		return err
	}
	if in.friends, err = cl.db.friends(); err != nil {
		return err
	}
	if *all {
		seen := map[string]bool{}
		for _, f := range in.friends {
			if addr := override(f.relay); !seen[addr] {
				seen[addr] = true
				in.fail(addr, in.fetchAll(addr))
			}
		}
		if len(seen) == 0 && *relay != "" {
			in.fail(*relay, in.fetchAll(*relay))
		}
	} else {
		for _, f := range in.friends {
			in.fail(override(f.relay), in.fetchFriend(f, override(f.relay)))
		}
	}
	sort.SliceStable(in.events, func(i, j int) bool {
		if !in.events[i].at.Equal(in.events[j].at) {
			return in.events[i].at.Before(in.events[j].at)
		}
		return in.events[i].seq < in.events[j].seq
	})
	for _, e := range in.events {
		fmt.Println(e.line)
	}
	if len(in.events) == 0 && !*watch {
		// "No new messages" is only true of relays that answered: with none answering it
		// would contradict the error below (issue #18 item 10).
		switch {
		case len(in.failed) == 0:
			fmt.Fprintln(os.Stderr, "no new messages")
		case len(in.conns) > 0:
			fmt.Fprintln(os.Stderr, "no new messages on the relays that answered")
		}
	}
	if len(in.failed) > 0 {
		addrs := make([]string, 0, len(in.failed))
		var first error
		for a, err := range in.failed {
			addrs = append(addrs, a)
			first = err
		}
		sort.Strings(addrs)
		return fmt.Errorf("could not read %s (%w); messages there wait for the next run", strings.Join(addrs, ", "), first)
	}
	if *watch {
		in.events = nil
		return in.watch(override)
	}
	return nil
}

// fail notes that a relay could not be read; the other relays are still read, and what was
// read from this one up to the failure is kept (its cursor is not advanced).
func (in *inbox) fail(addr string, err error) {
	if err != nil && in.failed[addr] == nil {
		in.failed[addr] = err
	}
}

func (in *inbox) conn(addr string) (*peers.Client, error) {
	if c, ok := in.conns[addr]; ok {
		return c, nil
	}
	if err := in.failed[addr]; err != nil {
		return nil, err // tried once this run
	}
	c, err := dialRelay(in.ctx, addr)
	if err != nil {
		return nil, err
	}
	in.conns[addr] = c
	return c, nil
}

func (in *inbox) reject(id echo.ID, where, reason string) {
	in.rejects++
	fmt.Fprintf(os.Stderr, "echorelay: rejected blob %s%s: %s\n", id.Short(), where, reason)
}

func (in *inbox) add(at time.Time, line string) {
	in.events = append(in.events, event{at: at, seq: len(in.events), line: line})
}

// finishInvites looks for answers to this identity's pending invites.
func (in *inbox) finishInvites(override func(string) string) error {
	pend, err := in.cl.db.invites()
	if err != nil {
		return err
	}
	for _, p := range pend {
		if in.now.After(p.expires) {
			fmt.Fprintf(os.Stderr, "echorelay: an invite made on %s expired unanswered\n", p.expires.Add(-inviteTTL).Format("2006-01-02"))
			if err := in.cl.db.dropInvite(p.inv); err != nil {
				return err
			}
			continue
		}
		addr := override(p.inv.Relay)
		c, err := in.conn(addr)
		if err != nil {
			in.fail(addr, err)
			continue
		}
		tag := p.inv.AcceptorTag()
		scope := "invite:" + hex.EncodeToString(tag[:8])
		done := false
		next, err := fetchAll(in.ctx, c, []echo.Tag{echo.Tag(tag)}, in.cl.db.cursor(addr, scope), func(it echo.Item) error {
			if done {
				return nil
			}
			id := echo.BlobID(it.Envelope)
			e, err := echo.ParseEnvelope(it.Envelope)
			if err != nil {
				in.reject(id, " (invite answer)", "malformed envelope")
				return nil
			}
			b, nick, pair, err := p.inv.OpenAcceptorBlob(in.cl.id, e.Payload)
			if err != nil {
				in.reject(id, " (invite answer)", err.Error())
				return nil
			}
			if other, ok := in.cl.db.friendByFP(b.Fingerprint()); ok {
				in.reject(id, " (invite answer)", "from "+other+", who is already your friend")
				done = true
				return in.cl.db.dropInvite(p.inv)
			}
			name := in.pickName(p.name, nick, b)
			if err := in.cl.db.addFriend(&friend{name: name, bundle: b, pair: pair, relay: p.inv.Relay}); err != nil {
				return fmt.Errorf("failed to store friend: %w", err)
			}
			done = true
			in.add(in.now, fmt.Sprintf("friend added: %s accepted your invite; safety number %s", name,
				seal.SafetyNumber(in.cl.id.Fingerprint(), b.Fingerprint())))
			return in.cl.db.dropInvite(p.inv)
		})
		if err != nil {
			in.fail(addr, err)
			continue
		}
		if !done {
			if err := in.cl.db.setCursor(addr, scope, next); err != nil {
				return err
			}
		}
	}
	return nil
}

// pickName: the name given at invite time, else the one the friend suggested, else a number.
func (in *inbox) pickName(given, nick string, b *seal.Bundle) string {
	base := given
	if base == "" {
		base = strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.' {
				return r
			}
			return -1
		}, nick)
	}
	if base == "" || base == "." || base == ".." {
		base = "friend-" + strings.ReplaceAll(seal.ShortID(b.Fingerprint()), " ", "")[:5]
	}
	name := base
	for i := 2; in.cl.db.nameTaken(name) && i < 1000; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

func (in *inbox) lookup(fp seal.Fingerprint) *seal.Bundle {
	for _, f := range in.friends {
		if f.bundle.Fingerprint() == fp {
			return f.bundle
		}
	}
	return nil
}

func (in *inbox) friendOf(b *seal.Bundle) *friend {
	for _, f := range in.friends {
		if f.bundle == b {
			return f
		}
	}
	return nil
}

// lookbackEpochs covers the relay's longest blob lifetime.
func lookbackEpochs(c *peers.Client) int {
	ttl := time.Duration(c.Hello().MaxTTL) * time.Second
	if ttl <= 0 {
		ttl = echo.DefaultMaxTTL
	}
	return int(ttl/seal.EpochLength) + 1
}

func (in *inbox) fetchFriend(f *friend, addr string) error {
	c, err := in.conn(addr)
	if err != nil {
		return err
	}
	var tags []echo.Tag
	for _, t := range seal.ReceiveTags(f.pair, f.bundle.Fingerprint(), in.now, lookbackEpochs(c)) {
		tags = append(tags, echo.Tag(t))
	}
	fp := f.bundle.Fingerprint()
	scope := "friend:" + hex.EncodeToString(fp[:8])
	next, err := fetchAll(in.ctx, c, tags, in.cl.db.cursor(addr, scope), func(it echo.Item) error {
		return in.handle(it, f)
	})
	if err != nil {
		return err
	}
	return in.cl.db.setCursor(addr, scope, next)
}

func (in *inbox) fetchAll(addr string) error {
	c, err := in.conn(addr)
	if err != nil {
		return err
	}
	next, err := fetchAll(in.ctx, c, nil, in.cl.db.cursor(addr, "all"), func(it echo.Item) error {
		return in.handle(it, nil)
	})
	if err != nil {
		return err
	}
	return in.cl.db.setCursor(addr, "all", next)
}

// handle opens one blob. mailbox is the friend whose tag it came under, nil for --all.
func (in *inbox) handle(it echo.Item, mailbox *friend) error {
	id := echo.BlobID(it.Envelope)
	isNew, err := in.cl.db.markBlob(id[:])
	if err != nil || !isNew {
		return err
	}
	where := ""
	if mailbox != nil {
		where = " in " + mailbox.name + "'s mailbox"
	}
	e, err := echo.ParseEnvelope(it.Envelope)
	if err != nil {
		if mailbox != nil {
			in.reject(id, where, "malformed envelope")
		}
		return nil
	}
	m, err := seal.Open(in.cl.id, e.Payload, in.lookup)
	switch {
	case err == nil:
	case mailbox == nil && (errors.Is(err, seal.ErrNotForMe) || errors.Is(err, seal.ErrMalformed) || errors.Is(err, seal.ErrUnknownAlgorithm)):
		return nil // --all: somebody else's blob, or not a sealed payload at all
	case errors.Is(err, seal.ErrNotForMe):
		in.reject(id, where, "tampered or sealed to someone else (it does not authenticate)")
		return nil
	case errors.Is(err, seal.ErrMisaddressed):
		in.reject(id, where, "misaddressed: signed for another recipient and re-sealed to you")
		return nil
	case errors.Is(err, seal.ErrTampered):
		in.reject(id, where, "tampered: "+strings.TrimPrefix(err.Error(), "failed to open: "))
		return nil
	case errors.Is(err, seal.ErrUnknownSender):
		in.reject(id, where, "from an unknown sender")
		return nil
	default:
		in.reject(id, where, strings.TrimPrefix(err.Error(), "failed to open: "))
		return nil
	}
	from := in.friendOf(m.Sender)
	if mailbox != nil && from != mailbox {
		in.reject(id, where, "misaddressed: signed by "+from.name+", not by the mailbox's owner")
		return nil
	}
	if fresh, err := in.cl.db.markMessage(m.ID, m.Sender.Fingerprint()); err != nil {
		return err
	} else if !fresh {
		in.reject(id, where, "replay of a message already received")
		return nil
	}
	stamp := "[" + m.Time.Local().Format("2006-01-02 15:04:05") + "] " + from.name + ": "
	switch m.Type {
	case seal.TypeText:
		if err := in.cl.db.addMessage(from.name, "in", m.Time, "text", m.Content); err != nil {
			return err
		}
		in.add(m.Time, stamp+printable(string(m.Content)))
	case seal.TypeFile:
		ch, err := seal.ParseFileChunk(m.Content)
		if err != nil {
			in.reject(id, where, "bad file chunk: "+err.Error())
			return nil
		}
		complete, err := in.cl.db.addChunk(from.name, ch, m.Time)
		if err != nil || !complete {
			return err
		}
		path, n, err := in.saveFile(ch, from.name)
		if err != nil {
			return err
		}
		if n != ch.Size {
			in.add(m.Time, fmt.Sprintf("%sfile %s arrived with %d of %d bytes; discarded", stamp, printable(ch.Name), n, ch.Size))
			os.Remove(path)
			return nil
		}
		if err := in.cl.db.addMessage(from.name, "in", m.Time, "file", []byte(path)); err != nil {
			return err
		}
		in.add(m.Time, fmt.Sprintf("%sfile %s (%d bytes) saved to %s", stamp, printable(ch.Name), n, path))
	default:
		in.add(m.Time, fmt.Sprintf("%s(a message of type %d, which this version cannot show)", stamp, m.Type))
	}
	return nil
}

// saveFile joins a complete file's chunks into HOME/files/NAME, never overwriting.
func (in *inbox) saveFile(ch seal.FileChunk, friend string) (string, uint64, error) {
	parts, err := in.cl.db.takeFile(ch.FileID, friend)
	if err != nil {
		return "", 0, err
	}
	dir := filepath.Join(in.cl.home, "files")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, err
	}
	base := safeFileName(ch.Name)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for i := 1; i < 10000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", 0, err
		}
		var n uint64
		for _, p := range parts {
			if _, err := f.Write(p); err != nil {
				f.Close()
				return "", 0, err
			}
			n += uint64(len(p))
		}
		return path, n, f.Close()
	}
	return "", 0, fmt.Errorf("too many files called %s", ch.Name)
}

// printable keeps a friend's text from driving the terminal or disguising itself: control
// characters other than newline and tab, and format characters (Unicode category Cf: bidi
// overrides and isolates such as U+202E, invisible separators) are shown as U+FFFD. The zero
// width joiner stays, since emoji sequences need it and it reorders nothing.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !hidden(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// hidden reports whether r is a control or format character (Cf) other than the zero width
// joiner: what a name, a message or a file name must not carry to a screen unneutralised.
func hidden(r rune) bool {
	return unicode.IsControl(r) || (unicode.Is(unicode.Cf, r) && r != '\u200D')
}

// safeFileName is a received file's name as it is saved: hidden characters become "_", so
// that "invoice\u202Efdp.exe" cannot pose as a PDF in a file manager.
func safeFileName(name string) string {
	return strings.Map(func(r rune) rune {
		if hidden(r) {
			return '_'
		}
		return r
	}, name)
}
