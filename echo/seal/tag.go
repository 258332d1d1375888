package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// EpochLength is how long one mailbox tag is used. A relay sees a new, unlinkable tag for the
// same pair and direction every epoch.
const EpochLength = 24 * time.Hour

// Epoch is the epoch number of t: floor(unix seconds / 86400).
func Epoch(t time.Time) uint64 { return uint64(t.Unix()) / uint64(EpochLength/time.Second) }

// MailboxTag is the tag of messages from sender within a pair in one epoch (PROTOCOL.md 7.5):
//
//	HMAC-SHA256(pair_secret, "echorelay-tag-v1" || sender_fp || epoch u64)
//
// The two directions of a pair have different tags; without the pair secret, tags of different
// epochs cannot be linked to each other or to anybody.
func MailboxTag(pairSecret []byte, sender Fingerprint, epoch uint64) [32]byte {
	m := hmac.New(sha256.New, pairSecret)
	m.Write([]byte("echorelay-tag-v1"))
	m.Write(sender[:])
	m.Write(binary.BigEndian.AppendUint64(nil, epoch))
	var t [32]byte
	copy(t[:], m.Sum(nil))
	return t
}

// ReceiveTags lists the tags a receiver polls for one friend: the epochs from `back` epochs ago
// up to one ahead (clock skew), newest first.
func ReceiveTags(pairSecret []byte, friend Fingerprint, now time.Time, back int) [][32]byte {
	e := Epoch(now)
	out := make([][32]byte, 0, back+2)
	for i := -1; i <= back && uint64(max(i, 0)) <= e; i++ {
		out = append(out, MailboxTag(pairSecret, friend, uint64(int64(e)-int64(i))))
	}
	return out
}
