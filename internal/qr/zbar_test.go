package qr

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// When zbarimg (Debian's zbar-tools) is installed, every version this package makes is decoded
// by an independent reader. Without it the test is skipped; the structural tests still run.
func TestDecodeWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed (apt-get install zbar-tools)")
	}
	dir := t.TempDir()
	for v := 1; v <= 10; v++ {
		n := dataCapacity(v) - 3 // the largest byte-mode payload of this version
		if v == 10 {
			n--
		}
		msg := []byte(strings.Repeat("echorelay invite 0123456789 ", 10)[:n])
		c, err := Encode(msg)
		if err != nil || c.Version != v {
			t.Fatalf("%d bytes: version %d, %v", n, c.Version, err)
		}
		f := filepath.Join(dir, "code.pbm")
		if err := os.WriteFile(f, c.PBM(4), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbar, "-q", "--raw", f).Output()
		if err != nil || !bytes.Equal(bytes.TrimSuffix(out, []byte("\n")), msg) {
			t.Fatalf("version %d (mask %d): zbarimg read %q (%v), want %q", v, c.Mask, out, err, msg)
		}
	}
}
