package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/echorelay/echorelay/internal/hint"
)

// ReadPassphrase takes the file's first line (without its CR), else the environment; a file
// that cannot be read is an error, not an empty passphrase.
func TestReadPassphrase(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pass")
	if err := os.WriteFile(file, []byte("first line\r\nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ECHORELAY_PASSPHRASE", "from env")
	if p, err := ReadPassphrase(file); err != nil || string(p) != "first line" {
		t.Fatalf("from the file: %q, %v", p, err)
	}
	if p, err := ReadPassphrase(""); err != nil || string(p) != "from env" {
		t.Fatalf("from the environment: %q, %v", p, err)
	}
	if p, err := ReadPassphrase(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "failed to read passphrase file") {
		t.Fatalf("a missing file: %q, %v", p, err)
	}
	t.Setenv("ECHORELAY_PASSPHRASE", "")
	if p, err := ReadPassphrase(""); err != nil || p == nil || len(p) != 0 {
		t.Fatalf("no source: %q, %v", p, err)
	}
}

// NewPassphrase: --no-passphrase wins over every source; a file or the environment gives it;
// ECHORELAY_NO_PASSPHRASE=1 gives none; without any of them and without a terminal it
// refuses with a hint rather than create an unprotected identity.
func TestNewPassphrase(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(file, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ECHORELAY_PASSPHRASE", "")
	t.Setenv("ECHORELAY_NO_PASSPHRASE", "")
	if p, err := NewPassphrase(file, true); p != nil || err != nil {
		t.Fatalf("--no-passphrase: %q, %v", p, err)
	}
	if p, err := NewPassphrase(file, false); string(p) != "secret" || err != nil {
		t.Fatalf("--passphrase-file: %q, %v", p, err)
	}
	t.Setenv("ECHORELAY_PASSPHRASE", "env secret")
	if p, err := NewPassphrase("", false); string(p) != "env secret" || err != nil {
		t.Fatalf("the environment: %q, %v", p, err)
	}
	t.Setenv("ECHORELAY_PASSPHRASE", "")
	t.Setenv("ECHORELAY_NO_PASSPHRASE", "1")
	if p, err := NewPassphrase("", false); p != nil || err != nil {
		t.Fatalf("ECHORELAY_NO_PASSPHRASE=1: %q, %v", p, err)
	}
	t.Setenv("ECHORELAY_NO_PASSPHRASE", "")
	if StdinIsTerminal() {
		t.Skip("standard input is a terminal: the last case would prompt")
	}
	if p, err := NewPassphrase("", false); err == nil || !strings.Contains(err.Error(), "needs a passphrase") || !strings.Contains(hint.Of(err), "--no-passphrase") {
		t.Fatalf("no source and no terminal: %q, %v (hint %q)", p, err, hint.Of(err))
	}
}

// NewLogger logs at the level asked and above, and refuses an unknown level with a hint.
func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger("warn", &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("quiet")
	l.Warn("loud")
	if s := buf.String(); strings.Contains(s, "quiet") || !strings.Contains(s, "level=WARN msg=loud") {
		t.Fatalf("a warn logger wrote %q", s)
	}
	if _, err := NewLogger("verbose", &buf); err == nil || !strings.Contains(err.Error(), `unknown --log-level "verbose"`) || hint.Of(err) == "" {
		t.Fatalf("an unknown level: %v", err)
	}
}
