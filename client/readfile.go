package client

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/hint"
)

// ReadFile reads the file at path for SendFile: its base name, which must be safe to send,
// and its content, at most MaxFile bytes.
func ReadFile(path string) (name string, content []byte, err error) {
	name = filepath.Base(path)
	if !seal.SafeName(name) {
		return "", nil, hint.New("rename the file", "file name %q cannot be sent", name)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", nil, fmt.Errorf("failed to read the file: %w", err)
	}
	if st.Size() > MaxFile {
		return "", nil, hint.New("split it, or share it another way: relays keep at most 64 MiB per mailbox and day", "%s is %d bytes; send takes at most %d", path, st.Size(), MaxFile)
	}
	if content, err = os.ReadFile(path); err != nil {
		return "", nil, fmt.Errorf("failed to read the file: %w", err)
	}
	return name, content, nil
}

// ReadText reads a text for SendText from r (standard input): UTF-8, at most MaxFile bytes,
// without the newline that ends a typed line.
func ReadText(r io.Reader) ([]byte, error) {
	content, err := io.ReadAll(io.LimitReader(r, MaxFile))
	if err != nil {
		return nil, fmt.Errorf("failed to read standard input: %w", err)
	}
	if !utf8.Valid(content) {
		return nil, hint.New("send binary data as a file: echorelay send NAME FILE", "standard input is not UTF-8 text")
	}
	return bytes.TrimSuffix(content, []byte("\n")), nil
}
