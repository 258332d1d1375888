package hybrid

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestSpecTable checks the identifier table of HYBRID.md against the code:
// the document is the wire specification.
func TestSpecTable(t *testing.T) {
	b, err := os.ReadFile("HYBRID.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| 0x01") {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 8 {
			t.Fatalf("table row %q", line)
		}
		var id uint16
		var pkSize, skSize, ctSize int
		if _, err := fmt.Sscanf(strings.TrimSpace(f[1]), "0x%04x", &id); err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		name := strings.Fields(f[2])[0]
		fmt.Sscan(f[4], &pkSize)
		fmt.Sscan(f[5], &skSize)
		fmt.Sscan(f[6], &ctSize)
		rows++

		var mcName string
		for _, e := range sets {
			if e.id == id {
				mcName = e.mcName
			}
		}
		if mcName+"-mlkem768-x25519" != name {
			t.Errorf("HYBRID.md: %04x is %s, the code says %s", id, name, mcName)
		}
		s := ByID(id)
		if s == nil {
			if len(All()) > 0 {
				t.Errorf("HYBRID.md: %04x not registered", id)
			}
			continue
		}
		if s.Name() != name || s.PublicKeySize() != pkSize || s.PrivateKeySize() != skSize || s.CiphertextSize() != ctSize {
			t.Errorf("HYBRID.md row %q: code has %s %d %d %d", line, s.Name(), s.PublicKeySize(), s.PrivateKeySize(), s.CiphertextSize())
		}
	}
	if rows != len(sets) {
		t.Errorf("HYBRID.md lists %d hybrids, the code %d", rows, len(sets))
	}
	if !strings.Contains(string(b), "echorelay-hybrid-v1/0101/mceliece6688128f+mlkem768+x25519") {
		t.Error("HYBRID.md does not show the default label")
	}
}
