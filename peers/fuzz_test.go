package peers

import (
	"bytes"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPeersFile: any input either fails to parse or gives peers that are well formed, and
// writing them back as lines and parsing again gives the same peers (parse, serialize, parse is
// stable). Seeds are the files in testdata/peers.
func FuzzPeersFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/peers/*.txt")
	if len(files) == 0 {
		f.Fatal("no seed peers files in testdata/peers")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParsePeers(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out strings.Builder
		for _, p := range ps {
			if p.Scheme != SchemeQUIC && p.Scheme != SchemeTLS {
				t.Fatalf("scheme %q", p.Scheme)
			}
			if host, _, err := net.SplitHostPort(p.Addr); err != nil || host == "" {
				t.Fatalf("address %q: %v", p.Addr, err)
			}
			if p.Pin != "" {
				if raw, err := hex.DecodeString(p.Pin); err != nil || len(raw) != 32 || strings.ToLower(p.Pin) != p.Pin {
					t.Fatalf("pin %q", p.Pin)
				}
			}
			line := peerLine(p)
			one, err := ParsePeer(line)
			if err != nil || !samePeer(one, p) {
				t.Fatalf("ParsePeer(%q) = %+v, %v; want %+v", line, one, err, p)
			}
			out.WriteString(line + "\n")
		}
		again, err := ParsePeers(strings.NewReader(out.String()))
		if err != nil {
			t.Fatalf("serialized peers do not parse: %v\n%s", err, out.String())
		}
		if len(again) != len(ps) {
			t.Fatalf("%d peers, %d after a round trip", len(ps), len(again))
		}
		for i := range ps {
			if !samePeer(again[i], ps[i]) {
				t.Fatalf("peer %d: %+v after a round trip, want %+v", i, again[i], ps[i])
			}
		}
	})
}

// peerLine writes a peer as a peers-file line.
func peerLine(p Peer) string {
	s := p.Scheme + "://" + p.Addr
	if p.Pin != "" {
		s += " " + p.Pin
	}
	return s
}

func samePeer(a, b Peer) bool { return a.Scheme == b.Scheme && a.Addr == b.Addr && a.Pin == b.Pin }

// The seeds parse as their names say.
func TestPeersFileSeeds(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/peers/*.txt")
	if len(files) == 0 {
		t.Fatal("no seed peers files")
	}
	for _, p := range files {
		b, _ := os.ReadFile(p)
		ps, err := ParsePeers(bytes.NewReader(b))
		name := filepath.Base(p)
		if strings.HasPrefix(name, "bad-") || strings.HasPrefix(name, "extra-") || strings.HasPrefix(name, "short-") {
			if err == nil {
				t.Errorf("%s parsed: %+v", name, ps)
			}
			continue
		}
		if err != nil || len(ps) == 0 {
			t.Errorf("%s: %d peers, %v", name, len(ps), err)
		}
	}
}
