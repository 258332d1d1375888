package peers

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// oidSHA3WithRSA512 is id-rsassa-pkcs1-v1_5-with-sha3-512 (NIST CSOR, 2.16.840.1.101.3.4.3.16),
// the signature of Spot-On-Lite's self-made RSA certificates.
var oidSHA3WithRSA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 16}

// sha3RSACertificate builds, by hand, a self-signed RSA certificate signed with RSA-SHA3-512 as
// Spot-On-Lite makes them: x509.CreateCertificate cannot sign with SHA-3.
func sha3RSACertificate(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	name, err := asn1.Marshal(pkix.Name{CommonName: "127.0.0.1"}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA3WithRSA512}
	type validity struct{ NotBefore, NotAfter time.Time }
	tbs, err := asn1.Marshal(struct {
		Version  int `asn1:"optional,explicit,default:0,tag:0"`
		Serial   *big.Int
		Sig      pkix.AlgorithmIdentifier
		Issuer   asn1.RawValue
		Validity validity
		Subject  asn1.RawValue
		SPKI     asn1.RawValue
	}{2, big.NewInt(1), alg, asn1.RawValue{FullBytes: name},
		validity{time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)},
		asn1.RawValue{FullBytes: name}, asn1.RawValue{FullBytes: spki}})
	if err != nil {
		t.Fatal(err)
	}
	h := sha3.Sum512(tbs)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA3_512, h[:])
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	// The fixture is what it claims: it parses, names no algorithm Go knows, and its signature
	// verifies over its TBSCertificate with SHA3-512.
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		t.Fatalf("signature algorithm %v, want one Go does not know", c.SignatureAlgorithm)
	}
	hh := sha3.Sum512(c.RawTBSCertificate)
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA3_512, hh[:], c.Signature); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func ecCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// spotOnLiteTLS is an Echo TLS listener that behaves as Spot-On-Lite's OpenSSL does (facts of
// issue 19): a ClientHello whose signature_algorithms_cert (extension 50) offers no scheme for
// the certificate's signature is refused by closing the connection without an alert. No TLS
// SignatureScheme exists for RSA-SHA3-512, so a client that sends the extension never gets in
// with such a certificate. A completed handshake gets capabilities, then the link is read.
type spotOnLiteTLS struct {
	ln        net.Listener
	refused   atomic.Int64
	completed atomic.Int64
}

func startSpotOnLiteTLS(t *testing.T, cert tls.Certificate, certScheme tls.SignatureScheme) *spotOnLiteTLS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &spotOnLiteTLS{ln: ln}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10,
		GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
			const signatureAlgorithmsCert = 50
			if slices.Contains(chi.Extensions, signatureAlgorithmsCert) && (certScheme == 0 || !slices.Contains(chi.SignatureSchemes, certScheme)) {
				s.refused.Add(1)
				chi.Conn.Close() // no alert: the alert write fails on the closed socket
				return nil, errors.New("no usable certificate")
			}
			return nil, nil
		}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				tc.SetDeadline(time.Now().Add(testutil.Timeout(10 * time.Second)))
				if tc.Handshake() != nil {
					return
				}
				s.completed.Add(1)
				tc.SetDeadline(time.Time{})
				tc.Write(echo.AppendEchoMessage(nil, echo.EchoTypeCapabilities, echo.EchoCapabilities("{s}", 8<<20, true)))
				buf := make([]byte, 4096)
				for {
					if _, err := tc.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// echo+tls to a Spot-On-Lite listener with an RSA-SHA3-512 certificate cannot complete with Go's
// TLS client; the dial says why and what works, the neighbour's status carries the hint, and
// the alternatives work: an EC listener, and the same listener for a ClientHello without the
// extension (here from a TLS 1.1 client, to show the model refuses only for that reason).
func TestEchoTLSRSAListener(t *testing.T) {
	t.Parallel()
	rsaSrv := startSpotOnLiteTLS(t, sha3RSACertificate(t), 0)
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(20*time.Second))
	defer cancel()

	p := Peer{Scheme: SchemeEchoTLS, Addr: rsaSrv.ln.Addr().String()}
	_, err := dialEcho(ctx, p)
	if !errors.Is(err, ErrEchoTLSClosed) {
		t.Fatalf("dial: %v, want ErrEchoTLSClosed", err)
	}
	for _, want := range []string{"RSA", "signature_algorithms_cert", "EC key size", "--echo-listen echo+tls://"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the dial error does not say %q: %v", want, err)
		}
	}
	if rsaSrv.refused.Load() != 1 || rsaSrv.completed.Load() != 0 {
		t.Fatalf("model refused %d, completed %d", rsaSrv.refused.Load(), rsaSrv.completed.Load())
	}
	// Go sends signature_algorithms_cert also when the Echo link is limited to TLS 1.2.
	c12 := echoClientTLS("")
	c12.MaxVersion = tls.VersionTLS12
	if _, err := tls.DialWithDialer(&net.Dialer{Timeout: testutil.Timeout(10 * time.Second)}, "tcp", p.Addr, c12); err == nil || !closedWithoutAlert(err) {
		t.Fatalf("TLS 1.2 only: %v, want a close without alert", err)
	}
	// Without the extension the same listener completes: only TLS 1.0/1.1 ClientHellos omit it.
	old := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if c, err := tls.DialWithDialer(&net.Dialer{Timeout: testutil.Timeout(10 * time.Second)}, "tcp", p.Addr, old); err != nil {
		t.Fatalf("a ClientHello without signature_algorithms_cert: %v", err)
	} else {
		c.Close()
	}

	// An EC key on the listener works with echo+tls.
	ecSrv := startSpotOnLiteTLS(t, ecCertificate(t), tls.ECDSAWithP256AndSHA256)
	c, err := dialEcho(ctx, Peer{Scheme: SchemeEchoTLS, Addr: ecSrv.ln.Addr().String()})
	if err != nil {
		t.Fatalf("EC listener: %v", err)
	}
	c.Close()

	// The neighbour's status row names the cause.
	tn := startTestNode(t, Config{}, store.Options{}, echo.Limits{})
	tn.SetPeers([]Peer{p})
	var st NeighbourStatus
	testutil.Eventually(t, 20*time.Second, "the failed echo+tls line's status", func() bool {
		for _, s := range tn.Neighbours() {
			if s.Peer == p.String() && strings.Contains(s.LastError, ErrEchoTLSClosed.Error()) {
				st = s
				return true
			}
		}
		return false
	})
	if h := EchoHint(st); h != EchoTLSHint {
		t.Fatalf("hint %q", h)
	}
	if EchoHint(NeighbourStatus{State: "backoff", LastError: "connection refused"}) != "" {
		t.Fatal("a hint for an unrelated error")
	}
}
