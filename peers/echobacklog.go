package peers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// The backlog of an Echo neighbour (PROTOCOL.md section 10). Echo keeps nothing: a message that
// finds its neighbour's link down is gone, and Spot-On-Lite drops what arrives in the first
// seconds of a connection. So each Full Echo line of the peers file has a position in the store
// (a blob sequence number): every blob up to it has been written to the neighbour. After a
// (re)connect and the neighbour's settle time, the link first sends what the store holds after
// the position (catch-up), then live floods; a flood dropped on a full queue triggers another
// catch-up instead of being lost. The position is kept in a small file per line under the
// state directory (Config.EchoStateDir), so a restart of either side loses nothing.
//
// Position while live: when the link's queue is empty, the store's last sequence number is
// sampled; a sample becomes the position one second (echoPositionLag) later, at the next empty
// queue: by then the floods of every blob it counts have been queued and written.

const (
	echoPositionLag  = time.Second
	echoSaveEvery    = 10 * time.Second // the position file is rewritten at most this often while up
	echoTouchEvery   = 10 * time.Minute // and for a newer sample time alone (the --echo-ttl check)
	echoCatchUpPage  = 256              // blobs per store read
	echoCatchUpBytes = 4 << 20
	echoKnownMax     = 8192 // blob IDs a line remembers having received, a link having sent: twice a full queue
	echoPositionFile = "echorelay echo position v1"
)

// echoLine is the lasting state of one Echo line: its store position, and the blobs its links
// received (in memory), so that a catch-up returns no blob to the neighbour it came from.
// Blobs an earlier link wrote in its last moments are sent again: Echo has no acknowledgement,
// and a duplicate is dropped by Echo's caches where a blob skipped would be lost.
type echoLine struct {
	path string // the position file; "" keeps it in memory
	from echoKnown

	mu      sync.Mutex // guards the fields below
	pos     uint64
	at      time.Time // when pos was sampled
	known   bool      // pos is set (from the file or a first link)
	saved   time.Time // last write of the file
	savedAt time.Time // the sample time it holds
	dirty   bool
}

// echoLineKey names a line's position: scheme and address, not its options.
func echoLineKey(p Peer) string { return p.Scheme + "://" + p.Addr }

// echoLineFor returns the state of a dialled Full Echo line, loading its file on first use; nil
// when the store cannot say its last sequence number (no backlog then).
func (n *Node) echoLineFor(p Peer) *echoLine {
	if p.Half {
		return nil
	}
	if _, ok := n.relay.LastSeq(); !ok {
		return nil
	}
	s := &n.echoState
	s.mu.Lock()
	defer s.mu.Unlock()
	key := echoLineKey(p)
	if l := s.lines[key]; l != nil {
		return l
	}
	l := &echoLine{}
	if dir := n.cfg.EchoStateDir; dir != "" {
		h := sha256.Sum256([]byte(key))
		l.path = filepath.Join(dir, "echo-position-"+hex.EncodeToString(h[:8]))
		if err := l.load(); err != nil {
			n.log.Warn("echo backlog position unreadable; starting at the newest blob", "peer", key, "err", err)
		}
	}
	if s.lines == nil {
		s.lines = map[string]*echoLine{}
	}
	s.lines[key] = l
	return l
}

// load reads the position file: the header line, then "position SEQ UNIX".
func (l *echoLine) load() error {
	b, err := os.ReadFile(l.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", l.path, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var f []string
	if len(lines) == 2 && lines[0] == echoPositionFile {
		f = strings.Fields(lines[1])
	}
	if len(f) != 3 || f[0] != "position" {
		return fmt.Errorf("failed to parse %s: not an Echo position file", l.path)
	}
	pos, err1 := strconv.ParseUint(f[1], 10, 64)
	at, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("failed to parse %s: bad numbers", l.path)
	}
	l.pos, l.at, l.known = pos, time.Unix(at, 0), true
	l.savedAt = l.at
	return nil
}

// start returns where a new link's catch-up begins. A line without a position starts at the
// newest blob; a position older than ttl (the neighbour was away longer than Echo data lives
// here) also restarts there.
func (l *echoLine) start(last uint64, now time.Time, ttl time.Duration) (pos uint64, stale bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known && now.Sub(l.at) > ttl {
		stale = true
	}
	if !l.known || stale || l.pos > last { // a newer position than the store: a replaced store
		l.pos, l.at, l.known, l.dirty = last, now, true, true
	}
	return l.pos, stale
}

// advance moves the position forward (never back). A newer sample time alone makes the file
// due only every echoTouchEvery, so an idle line does not rewrite it every few seconds.
func (l *echoLine) advance(pos uint64, at time.Time) {
	l.mu.Lock()
	if pos > l.pos {
		l.pos, l.dirty = pos, true
	}
	if at.After(l.at) {
		l.at = at
		l.dirty = l.dirty || at.Sub(l.savedAt) >= echoTouchEvery
	}
	l.mu.Unlock()
}

func (l *echoLine) position() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pos
}

// save writes the file when it is due (advance) and force is set or echoSaveEvery has passed;
// force also writes a newer sample time alone.
func (l *echoLine) save(now time.Time, force bool) error {
	l.mu.Lock()
	due := l.dirty || force && !l.at.Equal(l.savedAt)
	if l.path == "" || !due || !force && now.Sub(l.saved) < echoSaveEvery {
		l.mu.Unlock()
		return nil
	}
	body := fmt.Sprintf("%s\nposition %d %d\n", echoPositionFile, l.pos, l.at.Unix())
	l.dirty, l.saved, l.savedAt = false, now, l.at
	l.mu.Unlock()
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return fmt.Errorf("failed to write the Echo position: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("failed to write the Echo position: %w", err)
	}
	return nil
}

// echoKnown is a bounded set of blob IDs: those a line received, or a link sent.
type echoKnown struct {
	mu   sync.Mutex // guards the fields below
	set  map[echo.ID]struct{}
	ring []echo.ID
	next int
}

// has reports whether id is in the set.
func (k *echoKnown) has(id echo.ID) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.set[id]
	return ok
}

// add records id and reports whether it was new.
func (k *echoKnown) add(id echo.ID) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.set == nil {
		k.set = map[echo.ID]struct{}{}
	}
	if _, ok := k.set[id]; ok {
		return false
	}
	if len(k.ring) < echoKnownMax {
		k.ring = append(k.ring, id)
	} else {
		delete(k.set, k.ring[k.next])
		k.ring[k.next] = id
		k.next = (k.next + 1) % echoKnownMax
	}
	k.set[id] = struct{}{}
	return true
}
