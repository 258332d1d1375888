//go:build !js

package home

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cloudflare/circl/kem"
	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
)

// File names inside a home.
const (
	IdentityFile = "identity"
	HistoryFile  = "history.db"
	FilesDir     = "files"
)

// Errors of a home.
var (
	// ErrNoIdentity: the home holds no identity file.
	ErrNoIdentity = errors.New("no identity")
	// ErrExists: Create found an identity already.
	ErrExists = errors.New("an identity already exists")
)

// ReadIdentityFile returns the raw identity file of dir (ErrNoIdentity).
func ReadIdentityFile(dir string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoIdentity, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read identity: %w", err)
	}
	return raw, nil
}

// Create makes a home (0700) with a fresh identity of scheme, protected by pass when it is
// not empty, and an empty history.
func Create(dir string, scheme kem.Scheme, pass []byte) (*seal.Identity, error) {
	path := filepath.Join(dir, IdentityFile)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("%w in %s", ErrExists, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create home: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create home: %w", err)
	}
	id, err := seal.GenerateIdentity(scheme)
	if err != nil {
		return nil, err
	}
	raw, err := id.Marshal(pass)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to write identity: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("failed to write identity: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("failed to write identity: %w", err)
	}
	h, err := OpenHistory(filepath.Join(dir, HistoryFile), client.NewVault(id.HistoryKey()))
	if err != nil {
		return nil, err
	}
	return id, h.Close()
}

// Open opens the home's identity (with pass when it is protected) and history, and returns a
// Client that dials with dial and saves received files in HOME/files.
func Open(dir string, pass []byte, dial client.Dialer, log *slog.Logger) (*client.Client, error) {
	raw, err := ReadIdentityFile(dir)
	if err != nil {
		return nil, err
	}
	id, err := seal.ParseIdentity(raw, pass)
	if err != nil {
		return nil, err
	}
	h, err := OpenHistory(filepath.Join(dir, HistoryFile), client.NewVault(id.HistoryKey()))
	if err != nil {
		return nil, err
	}
	c, err := client.New(client.Options{Identity: id, Store: h, Dial: dial, Files: client.DirSink(filepath.Join(dir, FilesDir)), Logger: log})
	if err != nil {
		h.Close()
		return nil, err
	}
	return c, nil
}
