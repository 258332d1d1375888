//go:build js && wasm

package main

// The operations on files, the backup, the passphrase and QR codes.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"syscall/js"

	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/qr"
	"github.com/echorelay/echorelay/internal/web/webstore"
)

// sink keeps received files in IndexedDB, each sealed under the history key.
type sink struct{ a *app }

// Save implements client.FileSink; the caller (a Receive) holds no lock of app's.
func (s sink) Save(name string, parts [][]byte) (string, error) {
	s.a.mu.Lock()
	v := s.a.vault
	s.a.mu.Unlock()
	if v == nil {
		return "", errLocked
	}
	var id [16]byte
	rand.Read(id[:])
	key := filePrefix + hex.EncodeToString(id[:])
	b := append([]byte(name), 0)
	for _, p := range parts {
		b = append(b, p...)
	}
	if err := s.a.idbPut(key, v.Seal(fileLabel, []byte(key), b)); err != nil {
		return "", err
	}
	return key, nil
}

func (a *app) opFile(v js.Value) (any, error) {
	key := str(v, "key")
	if !strings.HasPrefix(key, filePrefix) {
		return nil, fmt.Errorf("%w: not a file key", errBadInput)
	}
	a.mu.Lock()
	vault := a.vault
	a.mu.Unlock()
	if vault == nil {
		return nil, errLocked
	}
	sealed, err := a.idbGet(key)
	if err != nil || sealed == nil {
		return nil, cmpErr(err, errors.New("the file is no longer stored"))
	}
	b, err := vault.Open(fileLabel, []byte(key), sealed)
	if err != nil {
		return nil, err
	}
	i := strings.IndexByte(string(b), 0)
	return js.ValueOf(map[string]any{"name": string(b[:i]), "data": jsBytes(b[i+1:])}), nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// opExport returns the identity file: the backup, protected by the passphrase, readable by
// the echorelay command too.
func (a *app) opExport(js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	file, err := a.idbGet(keyIdentity)
	if err != nil || file == nil {
		return nil, cmpErr(err, errNoID)
	}
	return jsBytes(file), nil
}

// opImport replaces the identity here with a backup, after checking its passphrase; the
// history of the old identity is dropped (it could not be read under the new one).
func (a *app) opImport(v js.Value) (any, error) {
	file := bytesOf(v.Get("data"))
	id, err := seal.ParseIdentity(file, []byte(str(v, "passphrase")))
	if errors.Is(err, seal.ErrPassphrase) {
		return nil, errors.New("wrong passphrase for this backup")
	}
	if err != nil {
		return nil, err
	}
	if !seal.IsProtected(file) {
		return nil, fmt.Errorf("%w: this backup has no passphrase; protect it first (echorelay id passwd)", errBadInput)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.idbPut(keyIdentity, file); err != nil {
		return nil, err
	}
	a.openLocked(id, webstore.New(nil))
	if err := a.saveLocked(); err != nil {
		return nil, err
	}
	return js.ValueOf(map[string]any{"fingerprint": id.Fingerprint().String()}), nil
}

// opPasswd re-protects the identity under a new passphrase.
func (a *app) opPasswd(v js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	file, err := a.idbGet(keyIdentity)
	if err != nil || file == nil {
		return nil, cmpErr(err, errNoID)
	}
	id, err := seal.ParseIdentity(file, []byte(str(v, "old")))
	if errors.Is(err, seal.ErrPassphrase) {
		return nil, errors.New("wrong passphrase")
	}
	if err != nil {
		return nil, err
	}
	if len(str(v, "new")) < 8 {
		return nil, fmt.Errorf("%w: the passphrase needs at least 8 characters", errBadInput)
	}
	out, err := id.Marshal([]byte(str(v, "new")))
	if err != nil {
		return nil, err
	}
	if err := a.idbPut(keyIdentity, out); err != nil {
		return nil, err
	}
	return js.ValueOf(map[string]any{}), nil
}

// opQR draws text as an SVG QR code.
func (a *app) opQR(v js.Value) (any, error) {
	code, err := qr.Encode([]byte(str(v, "text")))
	if err != nil {
		return nil, err
	}
	return js.ValueOf(map[string]any{"svg": qrSVG(code)}), nil
}

func qrSVG(c *qr.Code) string {
	const quiet = 4
	n := c.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := range c.Size {
		for x := range c.Size {
			if c.Dark(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}
