package relayd

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/internal/web"
)

// startRelay starts c and returns its ready facts; the relay stops with the test.
func startRelay(t *testing.T, c Config) Ready {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := Start(ctx, c, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r.Ready()
}

// The web client is on by default next to the relay (port 0 beside a relay on port 0), its
// page names the relay, and --web off leaves no listener.
func TestWebListener(t *testing.T) {
	c := testConfig(t)
	ready := startRelay(t, c)
	if ready.Web == "" {
		t.Fatal("no web listener by default")
	}
	resp, err := http.Get("http://" + ready.Web + "/relay.json")
	if err != nil {
		t.Fatal(err)
	}
	var info web.RelayInfo
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.Fingerprint != ready.Fingerprint || info.Relay != ready.Listen {
		t.Fatalf("relay.json %+v (%v), ready %+v", info, err, ready)
	}

	off := testConfig(t)
	off.Web = "off"
	if r := startRelay(t, off); r.Web != "" {
		t.Fatalf("--web off still listens on %s", r.Web)
	}
}

// --web-cert self serves https with a certificate of the relay's own, whose public-key
// SHA-256 the page states; a second start reuses it.
func TestWebSelfSignedHTTPS(t *testing.T) {
	c := testConfig(t)
	c.Web, c.WebCert = "127.0.0.1:0", web.SelfCert
	ready := startRelay(t, c)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // the test compares the key itself
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: testutil.Timeout(10 * time.Second)}
	resp, err := cl.Get("https://" + ready.Web + "/relay.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var info web.RelayInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(resp.TLS.PeerCertificates[0].RawSubjectPublicKeyInfo)
	if info.WebFingerprint != hex.EncodeToString(sum[:]) {
		t.Fatalf("the page states %q, the certificate's key is %x", info.WebFingerprint, sum)
	}
	_, fp, err := web.TLSConfig(web.SelfCert, "", c.Data)
	if err != nil || fp != info.WebFingerprint {
		t.Fatalf("the certificate was not kept: %s, %v", fp, err)
	}
}
