package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// Options configure a Client. Identity, Store and Dial are required.
type Options struct {
	Identity *seal.Identity
	Store    Store
	Dial     Dialer
	Files    FileSink         // where received files go; nil: they are reassembled and dropped
	Now      func() time.Time // nil: time.Now; tests inject a clock
	Logger   *slog.Logger     // nil discards; never gets bodies, tags or addresses
	// MaxSkew is the clock tolerance of the time window (0: echo.DefaultMaxSkew).
	MaxSkew time.Duration
	// MaxSeen caps the seen set (0: DefaultMaxSeen).
	MaxSeen int
	// Via, when set, is the only relay this client talks to (the web client reaches only the
	// relay that served it): whatever is meant for another relay (a friend's relay, where
	// sends, group commits, session notices and outbox entries go) is put on and read from
	// Via, whose links carry it on. Another relay's fingerprint is then neither checked nor
	// learnt, since that relay is never talked to; ViaFP, when set, is Via's and is checked.
	Via, ViaFP string
}

// DefaultMaxSeen is the seen set's hard cap: a month of a busy friend's messages and file
// chunks, about 10 MB of SQLite.
const DefaultMaxSeen = 100_000

// Client is an opened identity with its history. Its methods are safe for concurrent use
// (Watch runs one subscription per relay); they serialise on one lock.
type Client struct {
	id    *seal.Identity
	st    Store
	dial  Dialer
	files FileSink
	now   func() time.Time
	log   *slog.Logger
	skew  time.Duration
	cap   int
	via   string // Options.Via
	viaFP string

	mu sync.Mutex // guards st across the steps of one operation
	// tagGen counts changes of the sessions that may change their receive tags (Watch
	// subscribes again when it moved).
	tagGen      atomic.Uint64
	resetQueued bool // a session reset waits in the outbox (guarded by mu)

	grp groupsState // groups.go
}

// New returns a Client over opts.
func New(opts Options) (*Client, error) {
	if opts.Identity == nil || opts.Store == nil || opts.Dial == nil {
		return nil, errors.New("client: Identity, Store and Dial are required")
	}
	c := &Client{id: opts.Identity, st: opts.Store, dial: opts.Dial, files: opts.Files, now: opts.Now, log: opts.Logger,
		skew: opts.MaxSkew, cap: opts.MaxSeen, via: opts.Via, viaFP: opts.ViaFP}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.skew <= 0 {
		c.skew = echo.DefaultMaxSkew
	}
	if c.cap <= 0 {
		c.cap = DefaultMaxSeen
	}
	return c, nil
}

// Identity returns the client's identity.
func (c *Client) Identity() *seal.Identity { return c.id }

// Close closes the store.
func (c *Client) Close() error { return c.st.Close() }

// SafetyNumber is the number the two friends compare.
func (c *Client) SafetyNumber(f *Friend) string {
	return seal.SafetyNumber(c.id.Fingerprint(), f.Fingerprint())
}

// Friends lists the friends by name.
func (c *Client) Friends() ([]*Friend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Friends()
}

// Friend finds a friend by name (ErrNoFriend).
func (c *Client) Friend(name string) (*Friend, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.friend(name)
}

func (c *Client) friend(name string) (*Friend, error) {
	fs, err := c.st.Friends()
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.Name == name {
			return f, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrNoFriend, name)
}

func (c *Client) friendByFP(fp seal.Fingerprint) (*Friend, error) {
	fs, err := c.st.Friends()
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.Fingerprint() == fp {
			return f, nil
		}
	}
	return nil, nil
}

func (c *Client) nameTaken(name string) (bool, error) {
	_, err := c.friend(name)
	if errors.Is(err, ErrNoFriend) {
		return false, nil
	}
	return err == nil, err
}

// RemoveFriend forgets a friend: keys, pair secret, relays. Their messages stay in the
// history, shown under their fingerprint.
func (c *Client) RemoveFriend(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := c.friend(name)
	if err != nil {
		return err
	}
	if err := c.st.RemoveFriend(f.Fingerprint()); err != nil {
		return fmt.Errorf("failed to remove friend: %w", err)
	}
	return nil
}

// RenameFriend gives a friend another name.
func (c *Client) RenameFriend(old, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := c.friend(old)
	if err != nil {
		return err
	}
	if taken, err := c.nameTaken(name); err != nil || taken {
		return cmpErr(err, fmt.Errorf("%w %q", ErrNameTaken, name))
	}
	f.Name = name
	if err := c.st.PutFriend(f); err != nil {
		return fmt.Errorf("failed to rename friend: %w", err)
	}
	return nil
}

// BlockFriend blocks (or unblocks) a friend: their blobs are dropped silently.
func (c *Client) BlockFriend(name string, blocked bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := c.friend(name)
	if err != nil {
		return err
	}
	f.Blocked = blocked
	if err := c.st.PutFriend(f); err != nil {
		return fmt.Errorf("failed to block friend: %w", err)
	}
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// HistoryEntry is a stored message with the friend's current name ("" when removed).
type HistoryEntry struct {
	Message
	Name string
	// Group is the group's name for a group message, From its sender's name (groups.go).
	Group, From string
}

// friendHistory returns the last messages with name ("" for everybody), oldest first.
func (c *Client) friendHistory(name string, last int) ([]HistoryEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var who *seal.Fingerprint
	if name != "" {
		f, err := c.friend(name)
		if err != nil {
			return nil, err
		}
		fp := f.Fingerprint()
		who = &fp
	}
	ms, err := c.st.Messages(who, last)
	if err != nil {
		return nil, fmt.Errorf("failed to read history: %w", err)
	}
	fs, err := c.st.Friends()
	if err != nil {
		return nil, err
	}
	names := map[seal.Fingerprint]string{}
	for _, f := range fs {
		names[f.Fingerprint()] = f.Name
	}
	out := make([]HistoryEntry, len(ms))
	for i, m := range ms {
		out[i] = HistoryEntry{Message: *m, Name: names[m.Friend]}
	}
	return out, nil
}

// FileSink keeps received files.
type FileSink interface {
	// Save writes a file's parts under name (a SafeFileName) and says where, never
	// overwriting another file.
	Save(name string, parts [][]byte) (where string, err error)
}

// DirSink saves files in a directory (made 0700), as "name", "name (2).ext", ….
type DirSink string

// Save implements FileSink.
func (d DirSink) Save(name string, parts [][]byte) (string, error) {
	dir := string(d)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("failed to save file: %w", err)
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; i < 10000; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		path := filepath.Join(dir, n)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("failed to save file: %w", err)
		}
		for _, p := range parts {
			if _, err := f.Write(p); err != nil {
				f.Close()
				os.Remove(path)
				return "", fmt.Errorf("failed to save file: %w", err)
			}
		}
		return path, f.Close()
	}
	return "", fmt.Errorf("failed to save file: too many files called %s", name)
}

// ErrWrongRelay: the relay at an address presents another key than the one recorded.
var ErrWrongRelay = errors.New("the relay's key is not the one recorded for it")

// session is one operation's connections: at most one per relay address, and the first
// error of each address that failed (not retried within the operation).
type session struct {
	c      *Client
	ctx    context.Context
	conns  map[string]Conn
	failed map[string]error
}

func (c *Client) session(ctx context.Context) *session {
	return &session{c: c, ctx: ctx, conns: map[string]Conn{}, failed: map[string]error{}}
}

// reaches says whether addr is talked to itself (see Options.Via).
func (c *Client) reaches(addr string) bool { return c.via == "" || addr == c.via }

func (s *session) conn(addr, fp string) (Conn, error) {
	if !s.c.reaches(addr) {
		addr, fp = s.c.via, s.c.viaFP
	}
	if cn, ok := s.conns[addr]; ok {
		if fp != "" && cn.RelayFingerprint() != fp {
			return nil, fmt.Errorf("%w: %s", ErrWrongRelay, addr)
		}
		return cn, nil
	}
	if err := s.failed[addr]; err != nil {
		return nil, err
	}
	cn, err := s.c.dial(s.ctx, addr, fp)
	if err == nil && fp != "" && cn.RelayFingerprint() != fp {
		cn.Close()
		err = fmt.Errorf("%w: %s", ErrWrongRelay, addr)
	}
	if err != nil {
		s.failed[addr] = err
		return nil, err
	}
	s.conns[addr] = cn
	return cn, nil
}

func (s *session) fail(addr string, err error) {
	if err != nil && s.failed[addr] == nil {
		s.failed[addr] = err
	}
}

func (s *session) close() {
	for _, cn := range s.conns {
		cn.Close()
	}
}

// theirConn dials where I send to f, recording the relay's fingerprint on first use.
func (s *session) theirConn(f *Friend, override string) (Conn, string, error) {
	if override != "" && override != f.TheirRelay {
		cn, err := s.conn(override, "")
		return cn, override, err
	}
	cn, err := s.conn(f.TheirRelay, f.TheirRelayFP)
	if err == nil && f.TheirRelayFP == "" && s.c.reaches(f.TheirRelay) {
		f.TheirRelayFP = cn.RelayFingerprint()
		err = s.c.st.PutFriend(f)
	}
	return cn, f.TheirRelay, err
}

// myConn dials where f sends to me, recording the relay's fingerprint on first use.
func (s *session) myConn(f *Friend, override string) (Conn, string, error) {
	if override != "" && override != f.MyRelay {
		cn, err := s.conn(override, "")
		return cn, override, err
	}
	cn, err := s.conn(f.MyRelay, f.MyRelayFP)
	if err == nil && f.MyRelayFP == "" && s.c.reaches(f.MyRelay) {
		f.MyRelayFP = cn.RelayFingerprint()
		err = s.c.st.PutFriend(f)
	}
	return cn, f.MyRelay, err
}
