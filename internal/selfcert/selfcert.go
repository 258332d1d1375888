// Package selfcert makes and keeps a self-signed certificate and its key as two PEM files in a
// data directory. The relay keeps two such pairs: its node certificate (peers, Ed25519, the
// relay's identity on links) and its web certificate (internal/web, ECDSA P-256, because
// browsers take no Ed25519 certificate). Callers choose the key, the subject, the lifetime and
// the usages, and wrap the errors in their own words; selfcert does not load, pin, verify or
// rotate certificates.
package selfcert

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"time"
)

// Sign returns the DER of tmpl signed by key itself. tmpl gives the subject, NotAfter and the
// usages; Sign sets a random 127-bit serial number and a NotBefore an hour back (for a peer
// whose clock is a little behind), on a copy: tmpl is not changed.
func Sign(key crypto.Signer, tmpl *x509.Certificate) ([]byte, error) {
	if tmpl == nil {
		return nil, errors.New("no certificate template")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	t := *tmpl
	t.SerialNumber, t.NotBefore = serial, time.Now().Add(-time.Hour)
	return x509.CreateCertificate(rand.Reader, &t, &t, key.Public(), key)
}

// WriteKey writes key as a PKCS #8 "PRIVATE KEY" PEM file that only its owner reads (0600).
func WriteKey(path string, key crypto.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// WriteCert writes the DER of a certificate as a "CERTIFICATE" PEM file (0644). Write the key
// first: a caller that takes an existing certificate file to mean a complete pair is then
// right even after a crash, as both files are written through a temporary file and a rename.
func WriteCert(path string, der []byte) error {
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// Fingerprint is the hex SHA-256 of a certificate's SubjectPublicKeyInfo: the pin of a node
// certificate, and what browsers show as "Public Key SHA-256" for the web certificate.
func Fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:])
}

// writeFileAtomic writes data to path.tmp, syncs it and renames it over path, so that path
// holds either its old content or all of data.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
