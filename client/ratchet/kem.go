package ratchet

import (
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
)

// The KEM ratchet's chunking (PROTOCOL.md 7.8.4): an encapsulation key (1,184 bytes) goes as
// 4 chunks of 296 bytes, a ciphertext (1,088 bytes) as 4 chunks of 272 bytes.
const (
	kindEK = 1
	kindCT = 2

	chunkCount  = 4
	ekChunkSize = mlkem768.PublicKeySize / chunkCount  // 296
	ctChunkSize = mlkem768.CiphertextSize / chunkCount // 272
	// MaxChunk is the largest chunk field of a body: epoch u32 || kind u8 || index u8 ||
	// count u8 || data.
	MaxChunk = 7 + ekChunkSize
)

// chunk is one piece of KEM material in a message body.
type chunk struct {
	epoch uint32
	kind  uint8
	index uint8
	count uint8
	data  []byte
}

func (c *chunk) size() int { return 7 + len(c.data) }

// kemState is one side's part of the KEM ratchet.
//
// As owner of the epoch: seed is the key pair's seed (dk is derived from it), ct collects the
// peer's ciphertext, ready says it decapsulated ss, to be mixed at the next DH step.
// As the other side: ek collects the owner's key; once whole, ct and ss are the encapsulation,
// sent (ct) and kept (ss) until the owner's mix arrives.
type kemState struct {
	epoch   uint32
	owner   bool
	seed    [mlkem768.KeySeedSize]byte
	hasKey  bool
	got     uint8 // bit i: chunk i of the material being collected arrived
	ek      [mlkem768.PublicKeySize]byte
	ct      [mlkem768.CiphertextSize]byte
	ss      [mlkem768.SharedKeySize]byte
	ready   bool  // owner: ss decapsulated; peer: ct and ss made
	peerHas bool  // owner: a ct chunk arrived, so the peer has the key: stop sending it
	next    uint8 // round-robin index of the next chunk to send
}

func (k kemState) clone() kemState { return k }

func (k *kemState) makeKey(rand io.Reader) error {
	*k = kemState{epoch: k.epoch, owner: true}
	if _, err := io.ReadFull(rand, k.seed[:]); err != nil {
		return fmt.Errorf("failed to make a KEM key: %w", err)
	}
	pk, _ := mlkem768.NewKeyFromSeed(k.seed[:])
	pk.Pack(k.ek[:])
	k.hasKey = true
	return nil
}

// outgoing is the chunk the next message carries, nil when there is none to send.
func (k *kemState) outgoing() *chunk {
	var src []byte
	var kind uint8
	switch {
	case k.owner && k.hasKey && !k.peerHas && !k.ready:
		src, kind = k.ek[:], kindEK
	case !k.owner && k.ready:
		src, kind = k.ct[:], kindCT
	default:
		return nil
	}
	per := len(src) / chunkCount
	i := k.next % chunkCount
	k.next = (i + 1) % chunkCount
	return &chunk{epoch: k.epoch, kind: kind, index: i, count: chunkCount, data: src[int(i)*per : int(i+1)*per]}
}

// incoming takes a chunk from the peer. Chunks of another epoch, or of material this side
// does not wait for, are ignored (late copies); a chunk of the wrong size is malformed.
func (k *kemState) incoming(rand io.Reader, c *chunk) error {
	if c.epoch != k.epoch || c.count != chunkCount || c.index >= chunkCount {
		return nil
	}
	switch {
	case c.kind == kindCT && k.owner && k.hasKey && !k.ready:
		if len(c.data) != ctChunkSize {
			return fmt.Errorf("%w: ciphertext chunk of %d bytes", ErrMalformed, len(c.data))
		}
		k.peerHas = true
		copy(k.ct[int(c.index)*ctChunkSize:], c.data)
		k.got |= 1 << c.index
		if k.got == 1<<chunkCount-1 {
			_, sk := mlkem768.NewKeyFromSeed(k.seed[:])
			sk.DecapsulateTo(k.ss[:], k.ct[:])
			k.ready = true
		}
	case c.kind == kindEK && !k.owner && !k.ready:
		if len(c.data) != ekChunkSize {
			return fmt.Errorf("%w: key chunk of %d bytes", ErrMalformed, len(c.data))
		}
		copy(k.ek[int(c.index)*ekChunkSize:], c.data)
		k.got |= 1 << c.index
		if k.got == 1<<chunkCount-1 {
			var pk mlkem768.PublicKey
			if err := pk.Unpack(k.ek[:]); err != nil {
				// Not a valid key: start collecting again rather than refusing the message.
				k.got = 0
				return nil
			}
			var seed [mlkem768.EncapsulationSeedSize]byte
			if _, err := io.ReadFull(rand, seed[:]); err != nil {
				return fmt.Errorf("failed to encapsulate: %w", err)
			}
			pk.EncapsulateTo(k.ct[:], k.ss[:], seed[:])
			k.ready = true
			k.next = 0
		}
	}
	return nil
}

// takePeerMix returns the secret of epoch e that the owner mixed in, and makes this side the
// owner of the next epoch (the caller then makes its key pair).
func (k *kemState) takePeerMix(e uint32) ([]byte, bool) {
	if k.owner || !k.ready || k.epoch != e {
		return nil, false
	}
	ss := append([]byte(nil), k.ss[:]...)
	k.epoch++
	return ss, true
}

// takeOwnMix returns the decapsulated secret to mix at this DH step and its epoch (nil, 0
// when there is none), and hands the next epoch to the peer.
func (k *kemState) takeOwnMix() ([]byte, uint32) {
	if !k.owner || !k.ready {
		return nil, 0
	}
	ss, e := append([]byte(nil), k.ss[:]...), k.epoch
	*k = kemState{epoch: e + 1}
	return ss, e
}
