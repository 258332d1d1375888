package qr

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// When zbarimg (Debian's zbar-tools) is installed, codes of every size are decoded
// by an independent reader. Without it the test is skipped; the structural tests still run.
func TestDecodeWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed (apt-get install zbar-tools)")
	}
	dir := t.TempDir()
	// Invite codes, web links with the code in the fragment, and sizes up to version 40.
	msgs := [][]byte{[]byte("x"), []byte("HTTP://192.168.1.20:7790/#INVITE-ABC"), []byte("http://pi.local:7790/#i=er1-Zm9vYmFyCg")}
	for _, n := range []int{100, 213, 500, 1200, maxBytes} {
		msgs = append(msgs, []byte(strings.Repeat("echorelay invite 0123456789 ", 100)[:n]))
	}
	for _, msg := range msgs {
		c, err := Encode(msg)
		if err != nil {
			t.Fatalf("%d bytes: %v", len(msg), err)
		}
		f := filepath.Join(dir, "code.pbm")
		if err := os.WriteFile(f, c.PBM(4), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbar, "-q", "--raw", f).Output()
		if err != nil || !bytes.Equal(bytes.TrimSuffix(out, []byte("\n")), msg) {
			t.Fatalf("version %d: zbarimg read %.80q (%v), want %.80q", c.Version, out, err, msg)
		}
	}
}
