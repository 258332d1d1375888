package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
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

// SelfCert is the --web-cert value that asks for the relay's own self-signed web certificate.
const SelfCert = "self"

// Files of the self-signed web certificate in the data directory. It is not the node
// certificate: browsers take no Ed25519 certificate, so the web listener has an ECDSA P-256
// one of its own.
const (
	selfCertFile = "web-cert.pem"
	selfKeyFile  = "web-key.pem"
)

// TLSConfig returns the web listener's TLS configuration and the SHA-256 of its certificate's
// public key (hex, as browsers show "Public Key SHA-256"): from certFile and keyFile, or, with
// certFile SelfCert, from a self-signed certificate kept in dataDir (made on first use).
func TLSConfig(certFile, keyFile, dataDir string) (*tls.Config, string, error) {
	if certFile == SelfCert {
		if keyFile != "" {
			return nil, "", errors.New("--web-cert self makes its own key: leave --web-key empty")
		}
		certFile, keyFile = filepath.Join(dataDir, selfCertFile), filepath.Join(dataDir, selfKeyFile)
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := makeSelfCert(certFile, keyFile); err != nil {
				return nil, "", err
			}
		}
	}
	if certFile == "" || keyFile == "" {
		return nil, "", errors.New("--web-cert and --web-key go together (or --web-cert self)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("failed to load the web certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, "", fmt.Errorf("failed to load the web certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, selfcert.Fingerprint(leaf), nil
}

func makeSelfCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := selfcert.Sign(key, &x509.Certificate{Subject: pkix.Name{CommonName: "echorelay web client"},
		NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("failed to make the web certificate: %w", err)
	}
	if err := selfcert.WriteKey(keyFile, key); err != nil {
		return fmt.Errorf("failed to write the web key: %w", err)
	}
	if err := selfcert.WriteCert(certFile, der); err != nil {
		return fmt.Errorf("failed to write the web certificate: %w", err)
	}
	return nil
}

// VersionLine is what `echorelay version` adds about the web client.
func VersionLine() string {
	sum, err := WasmSHA256()
	if err != nil {
		return "web client: not built into this binary (scripts/webwasm, then build)"
	}
	return "web client wasm sha256 " + sum
}
