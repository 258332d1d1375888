package admin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files in the data directory written for the admin listener.
const (
	TokenFile = "admin.token" // the LAN token, mode 0600
	AddrFile  = "admin.addr"  // the bound address while serving, for `echorelay status`
)

// ErrUnusableToken is a token file that holds no usable token (shorter than 16 characters).
var ErrUnusableToken = errors.New("the token file holds no usable token")

// LoadOrCreateToken returns the token in dir/admin.token, or a new random one written there
// with mode 0600 (created is then true: the caller tells the operator).
func LoadOrCreateToken(dir string) (token string, created bool, err error) {
	path := filepath.Join(dir, TokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); len(t) >= 16 {
			return t, false, nil
		}
		return "", false, fmt.Errorf("%w: %s", ErrUnusableToken, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("failed to read the admin token: %w", err)
	}
	var raw [20]byte
	rand.Read(raw[:])
	t := hex.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("failed to write the admin token: %w", err)
	}
	return t, true, nil
}
