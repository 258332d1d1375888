package peers

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/echorelay/echorelay/internal/selfcert"
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
func Fingerprint(c *x509.Certificate) string { return selfcert.Fingerprint(c) }

func selfSign(key ed25519.PrivateKey) ([]byte, error) {
	return selfcert.Sign(key, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "echorelay node"},
		NotAfter:    time.Now().AddDate(50, 0, 0), // the key is the identity; pins, not expiry, matter
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"echorelay"},
	})
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
	if err := selfcert.WriteKey(kp, key); err != nil {
		return fmt.Errorf("failed to write node key: %w", err)
	}
	if err := selfcert.WriteCert(cp, der); err != nil {
		return fmt.Errorf("failed to write node certificate: %w", err)
	}
	return nil
}
