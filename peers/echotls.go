package peers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Echo links over TLS (PROTOCOL.md section 10). They take what Echo nodes offer: TLS 1.2 or
// 1.3, no ALPN, any key exchange; relay-to-relay links keep their own configuration (tls.go).
//
// What cannot be bridged: Spot-On-Lite signs its self-made RSA certificates with RSA-SHA3-512,
// for which TLS has no SignatureScheme. OpenSSL on its side then refuses any ClientHello whose
// signature_algorithms_cert extension lists no scheme matching the certificate, and its child
// process closes without an alert. Go's crypto/tls client sends that extension on every
// ClientHello that allows TLS 1.2 or later (handshake_client.go, makeClientHello: the list is
// set whenever maxVersion >= VersionTLS12), and a tls.Config cannot remove it or add a scheme;
// only TLS 1.0/1.1 would omit it, which are obsolete (RFC 8996) and which OpenSSL 3 refuses at
// its default security level. So dialling an RSA-keyed Spot-On-Lite listener fails, with
// ErrEchoTLSClosed and the alternatives in the error and on /status (EchoHint); EC listeners
// and Spot-On-Lite dialling our echo+tls listener work.

// ErrEchoTLSClosed is an echo+tls dial whose TLS handshake the Echo node ended without an alert:
// most likely a Spot-On-Lite listener with an RSA key.
var ErrEchoTLSClosed = errors.New("the Echo node closed the TLS handshake without an alert")

// EchoTLSHint names the cause of ErrEchoTLSClosed and what works instead.
const EchoTLSHint = "a Spot-On-Lite listener with an RSA key refuses Go's TLS client (its RSA-SHA3-512 certificate matches no scheme of the signature_algorithms_cert extension Go always sends); " +
	"give that listener an EC key size (256, 384 or 521), or let the Spot-On-Lite node dial this relay's Echo listener (--echo-listen echo+tls://HOST:PORT), or use echo+tcp://"

// EchoHint is the advice for a neighbour's status row, or "".
func EchoHint(s NeighbourStatus) string {
	if strings.Contains(s.LastError, ErrEchoTLSClosed.Error()) && s.State != "up" {
		return EchoTLSHint
	}
	return ""
}

func dialEcho(ctx context.Context, p Peer) (net.Conn, error) {
	if p.CallsIn {
		return waitEchoCallIn(ctx, p) // echoinbound.go
	}
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	d := &net.Dialer{KeepAlive: 15 * time.Second}
	c, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil || p.Scheme != SchemeEchoTLS {
		return c, err
	}
	tc := tls.Client(c, echoClientTLS(p.Pin))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		if closedWithoutAlert(err) {
			return nil, fmt.Errorf("failed to complete TLS with %s: %w (%s)", p.Addr, ErrEchoTLSClosed, EchoTLSHint)
		}
		return nil, fmt.Errorf("failed to complete TLS with %s: %w", p.Addr, err)
	}
	return tc, nil
}

// echoClientTLS is the client side of echo+tls: a pin when given, no ALPN, what Echo offers.
func echoClientTLS(pin string) *tls.Config {
	cfg := clientTLSFor(nil, pin, false)
	cfg.NextProtos, cfg.MinVersion = nil, tls.VersionTLS12
	return cfg
}

// closedWithoutAlert reports whether a handshake error is the peer closing the connection (EOF
// or a reset) rather than an alert or a local check.
func closedWithoutAlert(err error) bool {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
