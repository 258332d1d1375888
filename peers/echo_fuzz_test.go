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
