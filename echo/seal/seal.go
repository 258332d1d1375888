package seal

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/echorelay/echorelay/mceliece/hybrid"
	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed payload layout (PROTOCOL.md section 7.3):
//
//	version u8 (1) || kem_id u16 || kem_ct || nonce [24] || XChaCha20-Poly1305(k, nonce, padded, ad)
//	ad = version || kem_id || kem_ct
//	k  = HKDF-SHA3-256(ikm = kem_ss, salt = "", info = "echorelay-seal-v1" || kem_id || recipient_fp)
//
//	inner  = inner_version u8 (1) || sender_fp [32] || recipient_fp [32] || time_ms u64 ||
//	         msg_id [16] || content_type u8 || content_len u32 || content ||
//	         ed25519_sig [64] || mldsa65_sig [3309]
//	padded = inner || zero bytes up to Padded(len(inner))
//	the signatures cover "echorelay-msg-v1\x00" || inner up to the end of content
const (
	payloadVersion = 1
	innerVersion   = 1
	sealLabel      = "echorelay-seal-v1"
	msgLabel       = "echorelay-msg-v1\x00"
	// MessageIDSize is the size of a MessageID.
	MessageIDSize = 16
	innerFixed    = 1 + FingerprintSize + FingerprintSize + 8 + MessageIDSize + 1 + 4
	aeadOverhead  = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

// ContentType says what a message's content is.
type ContentType uint8

// Content types (PROTOCOL.md section 7.4). Unknown types are delivered to the caller.
const (
	TypeText ContentType = 1 // UTF-8 text
	TypeFile ContentType = 2 // one chunk of a file, see FileChunk
)

// MessageID is 16 random bytes chosen by the sender; the receiver's history rejects repeats.
type MessageID [MessageIDSize]byte

// Message is an opened, verified payload.
type Message struct {
	Sender    *Bundle
	Recipient Fingerprint
	Time      time.Time // the sender's clock, millisecond precision
	ID        MessageID
	Type      ContentType
	Content   []byte
}

// Padded is the size an inner plaintext of n bytes is padded to: the next power of two from
// 4 KiB up to 64 KiB, and above that Padmé (at most 12% overhead, leaking O(log log n) bits).
func Padded(n int) int { return PadSize(n, 4<<10) }

// PadSize is the padding rule of every sealed plaintext (PROTOCOL.md section 7.3): n bytes
// are padded to floor at least (a power of two), then to the next power of two up to 64 KiB,
// and above that to Padmé: the low e-s bits of n are rounded up, where e = floor(log2 n) and
// s = floor(log2 e) + 1, at most 12% overhead, and a relay learns O(log log n) bits of the
// length. Sealed messages use a floor of 4 KiB (Padded); group messages 256 bytes.
func PadSize(n, floor int) int {
	const pow2Limit = 64 << 10
	if n <= floor {
		return floor
	}
	if n <= pow2Limit {
		p := floor
		for p < n {
			p <<= 1
		}
		return p
	}
	e := bits.Len(uint(n)) - 1 // floor(log2 n)
	s := bits.Len(uint(e))     // floor(log2 e) + 1
	mask := (1 << (e - s)) - 1 // the low e-s bits are rounded away
	return (n + mask) &^ mask
}

// PayloadSize is the size of the sealed payload for content of n bytes to a bundle of the
// given KEM.
func PayloadSize(kemID uint16, n int) int {
	s := hybrid.ByID(kemID)
	if s == nil {
		return -1
	}
	return 3 + s.CiphertextSize() + aeadOverhead + Padded(innerFixed+n+sigsSize)
}

// MaxContent is the largest content that seals to at most maxPayload bytes for the KEM.
func MaxContent(kemID uint16, maxPayload int) int {
	lo, hi := 0, maxPayload
	if PayloadSize(kemID, 0) > maxPayload {
		return -1
	}
	for lo < hi { // largest n with PayloadSize(n) <= maxPayload
		mid := (lo + hi + 1) / 2
		if PayloadSize(kemID, mid) <= maxPayload {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Seal signs content as sender for the recipient to, pads it and encrypts it to to's KEM key.
func Seal(sender *Identity, to *Bundle, typ ContentType, content []byte, now time.Time) ([]byte, MessageID, error) {
	var mid MessageID
	if _, err := rand.Read(mid[:]); err != nil {
		return nil, mid, err
	}
	if uint64(len(content)) > 1<<31 {
		return nil, mid, fmt.Errorf("failed to seal: content of %d bytes is too large", len(content))
	}
	inner := make([]byte, 0, innerFixed+len(content)+sigsSize)
	inner = append(inner, innerVersion)
	inner = append(inner, sender.bundle.fp[:]...)
	inner = append(inner, to.fp[:]...)
	inner = binary.BigEndian.AppendUint64(inner, uint64(now.UnixMilli()))
	inner = append(inner, mid[:]...)
	inner = append(inner, byte(typ))
	inner = binary.BigEndian.AppendUint32(inner, uint32(len(content)))
	inner = append(inner, content...)
	inner = append(inner, sender.sign([]byte(msgLabel), inner)...)
	padded := make([]byte, Padded(len(inner)))
	copy(padded, inner)

	ct, ss, err := to.scheme.Encapsulate(to.kemPK)
	if err != nil {
		return nil, mid, fmt.Errorf("failed to seal: %w", err)
	}
	out := make([]byte, 0, 3+len(ct)+aeadOverhead+len(padded))
	out = append(out, payloadVersion)
	out = binary.BigEndian.AppendUint16(out, to.kemID)
	out = append(out, ct...)
	ad := out
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, mid, err
	}
	aead, err := chacha20poly1305.NewX(sealKey(ss, to.kemID, to.fp))
	if err != nil {
		return nil, mid, err
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, padded, ad), mid, nil
}

func sealKey(ss []byte, kemID uint16, recipient Fingerprint) []byte {
	info := append([]byte(sealLabel), byte(kemID>>8), byte(kemID))
	info = append(info, recipient[:]...)
	k, err := hkdf.Key(sha3.New256, ss, nil, string(info), chacha20poly1305.KeySize)
	if err != nil {
		panic(err) // unreachable: 32 bytes is far below HKDF's limit
	}
	return k
}

// Open decrypts a payload sealed to me, checks its padding, finds the sender with known (nil
// when unknown) and verifies both signatures and the recipient binding. The returned error
// wraps one of ErrMalformed, ErrUnknownAlgorithm, ErrNotForMe, ErrTampered, ErrMisaddressed or
// ErrUnknownSender. Replays are the caller's business: compare Message.ID with the history.
func Open(me *Identity, payload []byte, known func(Fingerprint) *Bundle) (*Message, error) {
	if len(payload) < 3 || payload[0] != payloadVersion {
		return nil, fmt.Errorf("failed to open: %w: not a sealed payload", ErrMalformed)
	}
	kemID := binary.BigEndian.Uint16(payload[1:])
	if kemID != me.bundle.kemID {
		if hybrid.ByID(kemID) == nil {
			return nil, fmt.Errorf("failed to open: %w: KEM %#04x", ErrUnknownAlgorithm, kemID)
		}
		return nil, fmt.Errorf("failed to open: %w", ErrNotForMe)
	}
	nct := me.scheme.CiphertextSize()
	if len(payload) < 3+nct+aeadOverhead {
		return nil, fmt.Errorf("failed to open: %w: %d bytes is too short", ErrMalformed, len(payload))
	}
	ct := payload[3 : 3+nct]
	ss, err := me.scheme.Decapsulate(me.kemSK, ct)
	if err != nil {
		return nil, fmt.Errorf("failed to open: %w: %v", ErrMalformed, err)
	}
	aead, err := chacha20poly1305.NewX(sealKey(ss, kemID, me.bundle.fp))
	if err != nil {
		return nil, err
	}
	nonce := payload[3+nct : 3+nct+chacha20poly1305.NonceSizeX]
	padded, err := aead.Open(nil, nonce, payload[3+nct+chacha20poly1305.NonceSizeX:], payload[:3+nct])
	if err != nil {
		return nil, fmt.Errorf("failed to open: %w", ErrNotForMe)
	}
	return openInner(me, padded, known)
}

func openInner(me *Identity, padded []byte, known func(Fingerprint) *Bundle) (*Message, error) {
	if len(padded) != Padded(len(padded)) || len(padded) < innerFixed+sigsSize || padded[0] != innerVersion {
		return nil, fmt.Errorf("failed to open: %w: inner layout", ErrTampered)
	}
	n := uint64(binary.BigEndian.Uint32(padded[innerFixed-4:]))
	end := uint64(innerFixed) + n
	if end+sigsSize > uint64(len(padded)) {
		return nil, fmt.Errorf("failed to open: %w: content length beyond the payload", ErrTampered)
	}
	for _, b := range padded[end+sigsSize:] {
		if b != 0 {
			return nil, fmt.Errorf("failed to open: %w: non-zero padding", ErrTampered)
		}
	}
	m := &Message{}
	var sender Fingerprint
	off := 1
	copy(sender[:], padded[off:])
	off += FingerprintSize
	copy(m.Recipient[:], padded[off:])
	off += FingerprintSize
	m.Time = time.UnixMilli(int64(binary.BigEndian.Uint64(padded[off:])))
	off += 8
	copy(m.ID[:], padded[off:])
	off += MessageIDSize
	m.Type = ContentType(padded[off])
	if subtle.ConstantTimeCompare(m.Recipient[:], me.bundle.fp[:]) != 1 {
		return nil, fmt.Errorf("failed to open: %w", ErrMisaddressed)
	}
	if known != nil {
		m.Sender = known(sender)
	}
	if m.Sender == nil {
		return nil, fmt.Errorf("failed to open: %w: %s", ErrUnknownSender, sender.String()[:16])
	}
	if m.Sender.fp != sender {
		return nil, fmt.Errorf("failed to open: %w: lookup returned another bundle", ErrUnknownSender)
	}
	if !m.Sender.verify([]byte(msgLabel), padded[:end], padded[end:end+sigsSize]) {
		return nil, fmt.Errorf("failed to open: %w: signature does not verify", ErrTampered)
	}
	m.Content = padded[innerFixed:end:end]
	return m, nil
}
