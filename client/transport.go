package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// Conn is one client connection to a relay: what *peers.Client offers (cmd/echorelay fills it
// with one), and what a browser transport will offer.
type Conn interface {
	Hello() echo.Hello // the relay's limits: max blob, max TTL, stamp bits
	Put(ctx context.Context, env []byte) (id echo.ID, dup bool, err error)
	Fetch(ctx context.Context, tags []echo.Tag, after uint64, limit int) (items []echo.Item, next uint64, more bool, err error)
	Subscribe(ctx context.Context, tags []echo.Tag, after uint64, fn func(echo.Item), caughtUp func()) error
	RelayFingerprint() string // the relay's TLS key fingerprint, hex
	Close() error
}

// Dialer connects to the relay at addr. With fp non-empty it MUST refuse a relay whose
// fingerprint differs (pinning); with fp empty it accepts any and the Client records what it
// saw.
type Dialer func(ctx context.Context, addr, fp string) (Conn, error)

// maxRateRetries bounds the waits for a relay that answers rate_limited.
const maxRateRetries = 5

// RetryRateLimited runs op, and again after the wait a relay asks for when it answers
// rate_limited (PROTOCOL.md section 9), at most maxRateRetries times; it returns op's last
// error.
func RetryRateLimited(ctx context.Context, op func() error) error {
	for try := 0; ; try++ {
		err := op()
		var e *echo.Error
		if try >= maxRateRetries || !errors.As(err, &e) || e.Code != echo.CodeRateLimited || e.RetryAfter <= 0 {
			return err
		}
		t := time.NewTimer(e.RetryAfter)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// envelopeReserve is what an envelope adds around a payload: its fixed header plus room for
// the largest proof-of-work stamp.
const envelopeReserve = 47 + 32

// makeEnvelope wraps payload for tag with a lifetime of at most the relay's limit.
func makeEnvelope(hello echo.Hello, now time.Time, tag [32]byte, ttl time.Duration, payload []byte) ([]byte, error) {
	if max := time.Duration(hello.MaxTTL) * time.Second; max > 0 && ttl > max {
		ttl = max
	}
	// The expiry is rounded down to the hour (up when that is not in the future), so that a
	// blob does not tell the second it was made (PROTOCOL.md 7.8.6).
	exp := now.Add(ttl).Unix()
	if exp -= exp % 3600; exp <= now.Unix() {
		exp += 3600
	}
	e := echo.Envelope{Expiry: exp, Tag: tag, Payload: payload}
	return e.Marshal()
}

// put prepares env for the relay and submits it, sending it again after the waits a
// rate-limited relay asks for.
func put(ctx context.Context, c Conn, env []byte) error {
	env, err := PrepareEnvelope(ctx, c, env)
	if err != nil {
		return err
	}
	err = RetryRateLimited(ctx, func() error {
		_, _, err := c.Put(ctx, env)
		return err
	})
	if err != nil {
		return fmt.Errorf("relay refused the blob: %w", err)
	}
	return nil
}

// PrepareEnvelope returns env as the relay of c takes it: stamped when the relay asks for
// proof of work (the cost PROTOCOL.md section 6 sets for its size and lifetime), or an error
// when it is larger than the relay takes, before anything is sent.
func PrepareEnvelope(ctx context.Context, c Conn, env []byte) ([]byte, error) {
	bits, err := echo.StampCostFor(c.Hello(), env, time.Now())
	if err != nil {
		return nil, err
	}
	if bits > echo.MaxStampBits {
		return nil, fmt.Errorf("failed to stamp: the relay asks for %d bits; this client computes at most %d", bits, echo.MaxStampBits)
	}
	if bits > 0 {
		if env, err = echo.StampEnvelope(ctx, env, bits); err != nil {
			return nil, fmt.Errorf("failed to compute the stamp the relay asks for: %w", err)
		}
	}
	if max := int(c.Hello().MaxBlob); max > 0 && len(env) > max {
		// The limit is on the whole envelope, the payload plus its header (version, expiry,
		// tag, stamp; section 2), so a payload of exactly max_blob does not fit.
		head := envelopeHead(env)
		return nil, fmt.Errorf("%w: the envelope is %d bytes (%d of payload + %d of envelope header), the relay takes at most %d: at most %d bytes of payload: %w",
			ErrTooLarge, len(env), len(env)-head, head, max, max-head, echo.ErrTooLarge)
	}
	return env, nil
}

// envelopeHead is the size of env's header: all but its payload.
func envelopeHead(env []byte) int {
	e, err := echo.ParseEnvelope(env)
	if err != nil {
		return 0
	}
	return len(env) - len(e.Payload)
}

// fetchAll reads every page after cursor for tags (nil: every blob).
func fetchAll(ctx context.Context, c Conn, tags []echo.Tag, cursor uint64, fn func(echo.Item) error) (uint64, error) {
	return FetchPages(ctx, c, tags, cursor, 0, fn)
}

// permanent reports whether a put failed for good (the blob will never be taken), rather
// than for now (no connection, a full mailbox, a rate limit).
func permanent(err error) bool {
	var e *echo.Error
	if !errors.As(err, &e) {
		return errors.Is(err, ErrTooLarge)
	}
	switch e.Code {
	case echo.CodeTooLarge, echo.CodeExpired, echo.CodeTooFarFuture, echo.CodeMalformed, echo.CodeUnsupportedVersion:
		return true
	}
	return false
}
