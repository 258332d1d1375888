package peers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/internal/testutil"
)

// A client dialing with the relay's fingerprint connects; with another fingerprint it is
// refused with ErrWrongRelay naming both; without one it connects and reports the relay's
// fingerprint, on QUIC and on TCP+TLS.
func TestDialClientPinned(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	other, err := NewEphemeralIdentity()
	if err != nil {
		t.Fatal(err)
	}
	fp := n.Fingerprint()
	for _, scheme := range []string{"quic://", "tls://"} {
		addr := scheme + "127.0.0.1:" + itoa(n.Port())
		for _, tc := range []struct {
			name, pin string
			wrong     bool
		}{
			{"no pin", "", false},
			{"right pin", fp, false},
			{"right pin in capitals with sha256:", "sha256:" + strings.ToUpper(fp), false},
			{"wrong pin", other.Fingerprint, true},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
			c, err := DialClientWith(ctx, addr, DialClientOptions{RelayFingerprint: tc.pin})
			if tc.wrong {
				cancel()
				if c != nil {
					c.Close()
				}
				if !errors.Is(err, ErrWrongRelay) {
					t.Fatalf("%s %s: %v, want ErrWrongRelay", scheme, tc.name, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, "fingerprint "+fp) || !strings.Contains(msg, "does not match the pin "+other.Fingerprint) {
					t.Errorf("%s %s: %q does not name the expected %s and the seen %s", scheme, tc.name, msg, other.Fingerprint, fp)
				}
				if strings.Contains(msg, "CRYPTO_ERROR") {
					t.Errorf("%s %s: transport noise in %q", scheme, tc.name, msg)
				}
				continue
			}
			if err != nil {
				cancel()
				t.Fatalf("%s %s: %v", scheme, tc.name, err)
			}
			if got := c.RelayFingerprint(); got != fp {
				t.Errorf("%s %s: RelayFingerprint %q, want %q", scheme, tc.name, got, fp)
			}
			if _, _, err := c.Put(ctx, envelope(t, scheme+tc.name)); err != nil {
				t.Errorf("%s %s: put over the link: %v", scheme, tc.name, err)
			}
			c.Close()
			cancel()
		}
	}
}

// A fingerprint that is not one, or one that contradicts the pin in the address, is refused
// before any packet is sent.
func TestDialClientBadFingerprint(t *testing.T) {
	t.Parallel()
	fp := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, addr, pin, want string
	}{
		{"too short", "127.0.0.1:9", "abcd", "64 hex characters"},
		{"not hex", "127.0.0.1:9", strings.Repeat("zz", 32), "64 hex characters"},
		{"contradicts the address", "127.0.0.1:9 " + fp, strings.Repeat("cd", 32), "carries the fingerprint"},
		{"an Echo address", "echo+tcp://127.0.0.1:9", "", "not a client transport"},
	} {
		// A dial attempt would wait for an answer; a refusal before dialing returns at once,
		// so an already cancelled context tells the two apart.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := DialClientWith(ctx, tc.addr, DialClientOptions{RelayFingerprint: tc.pin})
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, context.Canceled) || errors.Is(err, ErrWrongRelay) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
