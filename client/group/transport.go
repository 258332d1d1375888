package group

import (
	"context"
	"crypto/rand"
	"io"
)

// Transport is what a group needs from the client around it. client/ fills it: SendPairwise
// with the ratchet session to the member (or its outbox), Put and Fetch with its relay
// connections.
type Transport interface {
	// SendPairwise delivers a control payload to one member over the pairwise session,
	// authenticated as coming from this member. It should queue durably (an outbox) and
	// return an error only when it could not; a payload it loses leaves that member without
	// the keys in it.
	SendPairwise(ctx context.Context, to Fingerprint, payload []byte) error
	// Put stores a group blob under a mailbox tag (wrapped in an envelope by the transport).
	Put(ctx context.Context, tag [32]byte, blob []byte) error
	// Fetch returns the blobs under the tags that this member has not fetched before. Blobs
	// may come twice, late or in any order.
	Fetch(ctx context.Context, tags [][32]byte) ([][]byte, error)
}

// Config is what a member brings to its groups.
type Config struct {
	Self Fingerprint // this member's identity fingerprint
	// Keys are this member's long-term signature keys (seal.Bundle.SigningKeys) and Sign signs
	// with them: its chain announcements. Both are required.
	Keys SigKeys
	Sign Signer
	// Rand is the source of keys and nonces; crypto/rand when nil. Only test vectors set it.
	Rand io.Reader
	// Back is how many days of tags Sync asks for: a relay's longest lifetime in days, plus
	// one. 31 when zero (a 30-day max_ttl).
	Back int
}

func (c Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c Config) back() int {
	if c.Back <= 0 {
		return 31
	}
	return c.Back
}
