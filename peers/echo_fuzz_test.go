package peers

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzEchoPositionFile: any file content either loads or fails with an error, never panics; a
// position that loads is written back and loads the same.
func FuzzEchoPositionFile(f *testing.F) {
	f.Add([]byte(echoPositionFile + "\nposition 17 1767225600\n"))
	f.Add([]byte(echoPositionFile + "\nposition 18446744073709551615 -1\n"))
	f.Add([]byte("position 1 2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "echo-position-x")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l := &echoLine{path: path}
		if err := l.load(); err != nil {
			return
		}
		pos, at := l.pos, l.at
		l.dirty = true
		if err := l.save(time.Now(), true); err != nil {
			t.Fatal(err)
		}
		again := &echoLine{path: path}
		if err := again.load(); err != nil || again.pos != pos || !again.at.Equal(at) {
			t.Fatalf("%q: %d %v, again %d %v %v", b, pos, at, again.pos, again.at, err)
		}
	})
}

// FuzzEchoLineOptions: a peers-file line with Echo options parses or fails with an error; one that
// parses keeps its options within their bounds and parses the same again from its key.
func FuzzEchoLineOptions(f *testing.F) {
	f.Add("echo+tcp://192.0.2.1:4710 silence=20s settle=3s")
	f.Add("echo+tls://192.0.2.1:4710 half silence=3600")
	f.Add("echo+tcp://192.0.2.1:4710 silence=1s")
	f.Add("tls://192.0.2.1:7788 settle=1s")
	f.Fuzz(func(t *testing.T, line string) {
		p, err := ParsePeer(line)
		if err != nil {
			return
		}
		if p.Silence != 0 && (p.Silence < MinEchoSilence || p.Silence > MaxEchoSilence) || p.Settle < 0 || p.Settle > MaxEchoSettle {
			t.Fatalf("%q: silence %s settle %s out of bounds", line, p.Silence, p.Settle)
		}
		if !p.IsEcho() && (p.Silence != 0 || p.Settle != 0 || p.Half) {
			t.Fatalf("%q: Echo options on a %s line", line, p.Scheme)
		}
		q, err := ParsePeer(p.Key())
		if err != nil || q.Key() != p.Key() {
			t.Fatalf("%q: key %q parses to %q, %v", line, p.Key(), q.Key(), err)
		}
	})
}

// The position rules of PROTOCOL.md section 10.6 at their edges, with an explicit clock.
func TestEchoLinePosition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo-position-x")
	t0 := time.Unix(1_767_225_600, 0)
	l := &echoLine{path: path}
	if pos, stale := l.start(40, t0, time.Hour); pos != 40 || stale {
		t.Fatalf("a new line starts at %d (stale %v), want the newest blob 40", pos, stale)
	}
	l.advance(35, t0.Add(time.Second)) // never back
	l.advance(50, t0.Add(2*time.Second))
	if err := l.save(t0.Add(2*time.Second), true); err != nil {
		t.Fatal(err)
	}
	again := &echoLine{path: path}
	if err := again.load(); err != nil || again.pos != 50 || !again.at.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("reloaded %d at %v: %v", again.pos, again.at, err)
	}
	if pos, stale := again.start(90, t0.Add(time.Hour), time.Hour); pos != 50 || stale {
		t.Fatalf("within --echo-ttl: starts at %d (stale %v), want 50", pos, stale)
	}
	if pos, stale := again.start(90, t0.Add(time.Hour+3*time.Second), time.Hour); pos != 90 || !stale {
		t.Fatalf("away longer than --echo-ttl: starts at %d (stale %v), want 90", pos, stale)
	}
	replaced := &echoLine{path: path}
	replaced.load()
	if pos, _ := replaced.start(10, t0.Add(time.Minute), time.Hour); pos != 10 {
		t.Fatalf("a position beyond the store's newest blob: starts at %d, want 10", pos)
	}
	// An idle line: a newer sample time alone is written only every echoTouchEvery, or when
	// the link ends.
	idle := &echoLine{path: path}
	idle.start(5, t0, time.Hour)
	idle.save(t0, true)
	idle.advance(5, t0.Add(time.Minute))
	if idle.dirty {
		t.Fatal("a newer sample time alone made the file due at once")
	}
	idle.advance(5, t0.Add(echoTouchEvery))
	if !idle.dirty {
		t.Fatal("a sample time echoTouchEvery newer did not make the file due")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&echoLine{path: path}).load(); err == nil {
		t.Fatal("a garbage position file loaded")
	}
}
