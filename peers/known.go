package peers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Pin on first use (PROTOCOL.md section 9, issue #15 item 3). A peers-file line without a
// fingerprint is pinned to the key its relay first presents when this node dials it; the key
// is kept in DATA/known_peers (KnownPeersFile) across restarts. From then on the line is
// matched by that key alone, as if the operator had written it in the peers file: a dial that
// meets another key is refused (key_changed, a warning naming both fingerprints), and an
// inbound relay is this neighbour only if it presents the key.
//
// An inbound relay never pins a line by itself: its source address and the port it claims in
// HELLO prove nothing (anyone on that host, or behind the same NAT, can claim them). A relay
// that calls from the address of a line whose key is not known yet makes this node dial that
// line back at once; the dial pins the key, and the caller, now recognised by it, is re-linked
// as a neighbour. Until then it is served as a client, with every client limit.
//
// `echorelay trust HOST:PORT FINGERPRINT` (Accept) replaces a pinned key after a real change,
// `echorelay trust --forget HOST:PORT` (Forget) lets the next dial pin again; a running relay
// re-reads the file when it re-reads its peers file (SIGHUP, `echorelay reload`).
//
// The file, one line per pinned line, `#` comments:
//
//	HOST:PORT FINGERPRINT SINCE      # SINCE: when the key was first seen, RFC 3339 UTC
//
// HOST:PORT is the line's address exactly as the peers file writes it (quic:// and tls://
// lines to one address are one relay, listening on one port number for both).

// KnownPeersName is the file of first-use pins in a relay's data directory.
const KnownPeersName = "known_peers"

// KnownPeer is one first-use pin.
type KnownPeer struct {
	Addr        string    // the peers-file line's host:port
	Fingerprint string    // lowercase hex, as `echorelay fingerprint` prints it
	Since       time.Time // when the key was first seen (or accepted)
}

// KnownPeers is the record of first-use pins, in memory and, unless its path is empty, in a
// file that every change rewrites atomically. Safe for concurrent use.
type KnownPeers struct {
	path string

	mu   sync.Mutex // guards keys and serialises this process's rewrites of the file
	keys map[string]KnownPeer
}

// OpenKnownPeers reads the record at path; a missing file is an empty record, and an empty
// path keeps the record in memory only.
func OpenKnownPeers(path string) (*KnownPeers, error) {
	k := &KnownPeers{path: path, keys: map[string]KnownPeer{}}
	if err := k.Load(); err != nil {
		return nil, err
	}
	return k, nil
}

// Load re-reads the file (after `echorelay trust` changed it); on an error the record in
// memory is kept.
func (k *KnownPeers) Load() error {
	if k.path == "" {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := readKnown(k.path)
	if err != nil {
		return err
	}
	k.keys = m
	return nil
}

// Key is the fingerprint pinned for the line address addr, or "".
func (k *KnownPeers) Key(addr string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[addr].Fingerprint
}

// List is every pin, by address.
func (k *KnownPeers) List() []KnownPeer {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]KnownPeer, 0, len(k.keys))
	for _, p := range k.keys {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Accept pins fp for addr, replacing any key pinned before, and saves the record.
func (k *KnownPeers) Accept(addr, fp string, now time.Time) error {
	fp, err := parseFingerprint(fp)
	if err != nil {
		return err
	}
	if err := checkKnownAddr(addr); err != nil {
		return err
	}
	_, err = k.update(func(m map[string]KnownPeer) bool {
		if m[addr].Fingerprint == fp {
			return false
		}
		m[addr] = KnownPeer{Addr: addr, Fingerprint: fp, Since: now.UTC().Truncate(time.Second)}
		return true
	})
	return err
}

// Forget removes addr's pin, so that the next dial pins whatever key answers; false when there
// was none.
func (k *KnownPeers) Forget(addr string) (bool, error) {
	return k.update(func(m map[string]KnownPeer) bool {
		_, ok := m[addr]
		delete(m, addr)
		return ok
	})
}

// pinFirst pins fp for addr unless a key is pinned already, and returns the pinned key (fp
// when it was the first, the earlier one otherwise) and whether fp was pinned now. A failure
// to save keeps the pin in memory.
func (k *KnownPeers) pinFirst(addr, fp string, now time.Time) (pinned string, first bool, err error) {
	first, err = k.update(func(m map[string]KnownPeer) bool {
		if p, ok := m[addr]; ok {
			pinned = p.Fingerprint
			return false
		}
		pinned = fp
		m[addr] = KnownPeer{Addr: addr, Fingerprint: fp, Since: now.UTC().Truncate(time.Second)}
		return true
	})
	return pinned, first, err
}

// update applies change to the record as the file holds it now (another process may have
// changed it: `echorelay trust` beside a running relay) and saves the result when change
// reports a change. The record in memory follows whatever update decided, saved or not.
func (k *KnownPeers) update(change func(map[string]KnownPeer) bool) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := k.keys
	var readErr error
	if k.path != "" {
		if fresh, err := readKnown(k.path); err == nil {
			m = fresh
		} else {
			readErr = err // a file someone broke is not overwritten: the change stays in memory
		}
	}
	changed := change(m)
	k.keys = m
	switch {
	case readErr != nil:
		return changed, readErr
	case !changed || k.path == "":
		return changed, nil
	}
	if err := writeKnown(k.path, m); err != nil {
		return true, fmt.Errorf("failed to save %s: %w", k.path, err)
	}
	return true, nil
}

func checkKnownAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" || strings.ContainsAny(addr, " \t#") {
		return fmt.Errorf("%q is not host:port", addr)
	}
	return nil
}

func readKnown(path string) (map[string]KnownPeer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]KnownPeer{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read known peers: %w", err)
	}
	m, err := parseKnown(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// parseKnown reads `HOST:PORT FINGERPRINT SINCE` lines; a line repeated for one address is an
// error (it cannot say which key is pinned).
func parseKnown(r io.Reader) (map[string]KnownPeer, error) {
	m := map[string]KnownPeer{}
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want `HOST:PORT FINGERPRINT SINCE`", n)
		}
		if err := checkKnownAddr(f[0]); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		fp, err := parseFingerprint(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		since, err := time.Parse(time.RFC3339, f[2])
		if y := since.UTC().Year(); err != nil || y < 1 || y > 9999 { // a year written back must parse
			return nil, fmt.Errorf("line %d: %q is not an RFC 3339 time", n, f[2])
		}
		if _, dup := m[f[0]]; dup {
			return nil, fmt.Errorf("line %d: %s is pinned twice", n, f[0])
		}
		m[f[0]] = KnownPeer{Addr: f[0], Fingerprint: fp, Since: since.UTC()}
	}
	return m, sc.Err()
}

func marshalKnown(m map[string]KnownPeer) []byte {
	var b bytes.Buffer
	b.WriteString("# Keys first seen for the unpinned lines of the peers file (pin on first use).\n")
	b.WriteString("# Written by echorelay; change it with `echorelay trust`. HOST:PORT FINGERPRINT SINCE\n")
	addrs := make([]string, 0, len(m))
	for a := range m {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		p := m[a]
		fmt.Fprintf(&b, "%s %s %s\n", a, p.Fingerprint, p.Since.UTC().Format(time.RFC3339))
	}
	return b.Bytes()
}

// writeKnown replaces the file atomically: a temporary file beside it (its own name, so two
// writers never share one), synced, renamed over it.
func writeKnown(path string, m map[string]KnownPeer) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(marshalKnown(m))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
