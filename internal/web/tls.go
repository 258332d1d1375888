package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
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
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, hex.EncodeToString(sum[:]), nil
}

func makeSelfCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "echorelay web client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("failed to make the web certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("failed to write the web key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
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
