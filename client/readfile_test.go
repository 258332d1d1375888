package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/echorelay/echorelay/internal/hint"
)

// What send reads: a file by its base name, a text without its typed newline; binary input,
// an unsafe name, a missing or oversized file are refused with a hint or a plain error.
func TestReadFileAndText(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "photo.jpg")
	os.WriteFile(p, []byte("jpeg"), 0o644)
	if name, b, err := ReadFile(p); err != nil || name != "photo.jpg" || string(b) != "jpeg" {
		t.Fatalf("ReadFile: %q %q %v", name, b, err)
	}
	big := filepath.Join(dir, "big")
	if f, err := os.Create(big); err != nil || f.Truncate(MaxFile+1) != nil || f.Close() != nil {
		t.Fatal("cannot make a sparse file")
	}
	for _, bad := range []string{big, filepath.Join(dir, "missing"), filepath.Join(dir, "..")} {
		if _, _, err := ReadFile(bad); err == nil {
			t.Errorf("ReadFile(%s) accepted", bad)
		}
	}
	if _, _, err := ReadFile(big); hint.Of(err) == "" {
		t.Errorf("an oversized file: %v without a hint", err)
	}
	if b, err := ReadText(strings.NewReader("see you\n")); err != nil || string(b) != "see you" {
		t.Fatalf("ReadText: %q %v", b, err)
	}
	if _, err := ReadText(strings.NewReader("\xff\xfe")); hint.Of(err) == "" {
		t.Fatalf("binary input: %v", err)
	}
}
