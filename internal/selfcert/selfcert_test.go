package selfcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Both key kinds the relay keeps (Ed25519 node, P-256 web) round-trip through the files and
// tls.LoadX509KeyPair, self-signed, with the key private to its owner and no temporary file
// left; a second write replaces the pair whole.
func TestWriteLoad(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		name string
		key  crypto.Signer
	}{{"ed25519", ed}, {"p256", ec}} {
		t.Run(k.name, func(t *testing.T) {
			dir := t.TempDir()
			cp, kp := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
			tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "selfcert test"},
				NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			var first string
			for round := range 2 {
				der, err := Sign(k.key, tmpl)
				if err != nil {
					t.Fatal(err)
				}
				if tmpl.SerialNumber != nil || !tmpl.NotBefore.IsZero() {
					t.Fatal("Sign changed the caller's template")
				}
				if err := WriteKey(kp, k.key); err != nil {
					t.Fatal(err)
				}
				if err := WriteCert(cp, der); err != nil {
					t.Fatal(err)
				}
				pair, err := tls.LoadX509KeyPair(cp, kp)
				if err != nil {
					t.Fatalf("the written pair does not load: %v", err)
				}
				leaf, err := x509.ParseCertificate(pair.Certificate[0])
				if err != nil {
					t.Fatal(err)
				}
				if leaf.Subject.CommonName != "selfcert test" || leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 127 {
					t.Fatalf("subject %q, serial %v", leaf.Subject.CommonName, leaf.SerialNumber)
				}
				if now := time.Now(); !leaf.NotBefore.Before(now.Add(-50*time.Minute)) || !leaf.NotAfter.After(now) {
					t.Fatalf("valid from %v to %v, want from an hour back", leaf.NotBefore, leaf.NotAfter)
				}
				if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
					t.Fatalf("not self-signed: %v", err)
				}
				sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
				fp := Fingerprint(leaf)
				if fp != hex.EncodeToString(sum[:]) {
					t.Fatalf("Fingerprint = %s, want %x", fp, sum)
				}
				if round == 0 {
					first = leaf.SerialNumber.String()
				} else if leaf.SerialNumber.String() == first {
					t.Fatal("the second write did not replace the certificate")
				}
				kfi, err := os.Stat(kp)
				if err != nil {
					t.Fatal(err)
				}
				if kfi.Mode().Perm()&0o077 != 0 {
					t.Fatalf("key file mode %v: others may read it", kfi.Mode().Perm())
				}
				cfi, err := os.Stat(cp)
				if err != nil || cfi.Mode().Perm()&0o400 == 0 || cfi.Mode().Perm()&0o022 != 0 {
					t.Fatalf("certificate file mode %v, %v", cfi.Mode().Perm(), err)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
					t.Fatalf("temporary files left: %v", left)
				}
			}
		})
	}
}

// A key that PKCS #8 cannot hold is an error and writes nothing; so is a missing template.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	kp := filepath.Join(dir, "k.pem")
	if err := WriteKey(kp, "not a key"); err == nil {
		t.Fatal("WriteKey took a string")
	}
	if _, err := os.Stat(kp); !os.IsNotExist(err) {
		t.Fatalf("a failed WriteKey left a file: %v", err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ed, nil); err == nil {
		t.Fatal("Sign took no template")
	}
}
