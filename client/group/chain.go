package group

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
)

// Key schedule (PROTOCOL.md "Groups", keys). HKDF is RFC 5869 with SHA3-256, as in section 7.
//
//	mk || ck' = HKDF(ikm = ck, salt = "", info = "echorelay-group-chain-v1" || group_id ||
//	                 sender_fp || generation u32 || index u32, 64)
//	hk        = HKDF(ikm = epoch_secret, salt = "", info = "echorelay-group-header-v1" || group_id, 32)
//	tag       = HMAC-SHA256(epoch_secret, "echorelay-group-tag-v1" || group_id || day u64)
const (
	chainLabel  = "echorelay-group-chain-v1"
	headerLabel = "echorelay-group-header-v1"
	tagLabel    = "echorelay-group-tag-v1"
	// MaxSkip bounds how far one message may be ahead of its chain: opening it stores the keys
	// in between. Signal's default is 1,000 as well; a member who sends more than that while
	// one reader misses every one of them is not a chat.
	MaxSkip = 1000
	// MaxSkipped bounds the skipped message keys one group keeps (all senders together); the
	// oldest go first. 100 members with 20 messages each in flight fit.
	MaxSkipped = 2000
	// MaxGenerations bounds the chains kept per sender: the newest and a few older ones for
	// messages still in flight when the sender rotated.
	MaxGenerations = 4
)

// chainStep derives the message key of index and the chain key of index+1.
func chainStep(ck [32]byte, id ID, sender Fingerprint, gen, index uint32) (mk, next [32]byte) {
	info := make([]byte, 0, len(chainLabel)+IDSize+32+8)
	info = append(info, chainLabel...)
	info = append(info, id[:]...)
	info = append(info, sender[:]...)
	info = binary.BigEndian.AppendUint32(info, gen)
	info = binary.BigEndian.AppendUint32(info, index)
	out, err := hkdf.Key(sha3.New256, ck[:], nil, string(info), 64)
	if err != nil {
		panic("group: hkdf: " + err.Error()) // only for lengths beyond 255 hash sizes
	}
	copy(mk[:], out)
	copy(next[:], out[32:])
	return mk, next
}

// headerKey is the key of the message headers of one epoch.
func headerKey(secret [32]byte, id ID) [32]byte {
	out, err := hkdf.Key(sha3.New256, secret[:], nil, headerLabel+string(id[:]), 32)
	if err != nil {
		panic("group: hkdf: " + err.Error())
	}
	return [32]byte(out)
}

// tagFor is the mailbox tag of one epoch secret on one day.
func tagFor(secret [32]byte, id ID, day uint64) [32]byte {
	m := hmac.New(sha256.New, secret[:])
	m.Write([]byte(tagLabel))
	m.Write(id[:])
	m.Write(binary.BigEndian.AppendUint64(nil, day))
	return [32]byte(m.Sum(nil))
}

// ownChain is this member's sending chain of its current generation. The chain key is
// overwritten at each message, so a stolen state opens none of the messages sent before.
type ownChain struct {
	gen   uint32
	index uint32 // of the next message
	ck    [32]byte
	sig   ed25519.PrivateKey
}

// next returns the key of the next message and advances.
func (c *ownChain) next(id ID, self Fingerprint) (mk [32]byte, index uint32) {
	mk, c.ck = chainStep(c.ck, id, self, c.gen, c.index)
	index = c.index
	c.index++
	return mk, index
}

// recvChain is another member's chain as this member can derive it: from start on, never
// before (the key it was given derives no earlier one).
type recvChain struct {
	sender Fingerprint
	gen    uint32
	epoch  uint32 // the sender's epoch when it gave the key: a later one replaces it
	start  uint32 // the first index this member was given
	index  uint32 // the index ck derives
	ck     [32]byte
	sigPub ed25519.PublicKey
}

// skipKey names one skipped message key.
type skipKey struct {
	sender Fingerprint
	gen    uint32
	index  uint32
}
