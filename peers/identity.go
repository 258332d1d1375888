package peers

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Identity is a relay's node key and self-signed certificate.
type Identity struct {
	Cert        tls.Certificate
	Fingerprint string // hex SHA-256 of the certificate's SubjectPublicKeyInfo
}

const (
	keyFile  = "node.key"
	certFile = "node.crt"
)

// LoadOrCreateIdentity reads node.key and node.crt from dir, creating both on first run.
func LoadOrCreateIdentity(dir string) (*Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create data dir: %w", err)
	}
	kp, cp := filepath.Join(dir, keyFile), filepath.Join(dir, certFile)
	cert, err := tls.LoadX509KeyPair(cp, kp)
	if errors.Is(err, os.ErrNotExist) {
		if err := createIdentity(kp, cp); err != nil {
			return nil, err
		}
		cert, err = tls.LoadX509KeyPair(cp, kp)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to load node key: %w", err)
	}
	return newIdentity(cert)
}

// LoadIdentity reads the node key and certificate in dir without creating them (for commands
// that only look at a relay's data directory); a missing key is an os.ErrNotExist.
func LoadIdentity(dir string) (*Identity, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("failed to load node key: %w", err)
	}
	return newIdentity(cert)
}

// NewEphemeralIdentity makes an identity that lives only in memory (clients, tests).
func NewEphemeralIdentity() (*Identity, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := selfSign(key)
	if err != nil {
		return nil, err
	}
	return newIdentity(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
}

func newIdentity(cert tls.Certificate) (*Identity, error) {
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("failed to parse node certificate: %w", err)
	}
	cert.Leaf = leaf
	return &Identity{Cert: cert, Fingerprint: Fingerprint(leaf)}, nil
}

// Fingerprint is the hex SHA-256 of a certificate's SubjectPublicKeyInfo.
func Fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(h[:])
}

func selfSign(key ed25519.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "echorelay node"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(50, 0, 0), // the key is the identity; pins, not expiry, matter
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"echorelay"},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
}

func createIdentity(kp, cp string) error {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := selfSign(key)
	if err != nil {
		return fmt.Errorf("failed to create node certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		return fmt.Errorf("failed to write node key: %w", err)
	}
	if err := writeFileAtomic(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("failed to write node certificate: %w", err)
	}
	return nil
}

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
