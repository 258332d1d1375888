package echo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Envelope layout (PROTOCOL.md section 2):
//
//	version u8 (1) || flags u8 (0) || expiry u64 || tag [32] || stamp_len u8 || stamp ||
//	payload_len u32 || payload
const (
	Version        = 1  // envelope and protocol version
	envHeaderLen   = 43 // version..stamp_len
	envFixedLen    = 47 // header + payload_len, without stamp and payload
	MaxStampLen    = 32 // largest stamp an envelope may carry
	TagSize        = 32 // mailbox tag
	IDSize         = 32 // SHA-256 blob ID
	offExpiry      = 2
	offTag         = 10
	offStampLen    = 42
	DefaultMaxBlob = 2 << 20 // 2 MiB: a McEliece 6688128 public key (1,044,992 B) must fit
)

// ID identifies a blob: SHA-256 over its canonical envelope.
type ID [IDSize]byte

// Tag is a mailbox tag; the zero Tag means untagged.
type Tag [TagSize]byte

// Short is the first 8 bytes in hex, for logs and people.
func (id ID) Short() string { return hex.EncodeToString(id[:8]) }

// String is the full ID in hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads a 64-character hex blob ID.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != IDSize {
		return id, fmt.Errorf("blob id must be 64 hex characters")
	}
	copy(id[:], b)
	return id, nil
}

// ParseTag reads a 64-character hex mailbox tag.
func ParseTag(s string) (Tag, error) {
	var t Tag
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != TagSize {
		return t, fmt.Errorf("mailbox tag must be 64 hex characters")
	}
	copy(t[:], b)
	return t, nil
}

// IsZero reports whether the tag means untagged.
func (t Tag) IsZero() bool { return t == Tag{} }

// Envelope is the parsed form of the bytes a relay stores.
type Envelope struct {
	Expiry  int64 // Unix seconds
	Tag     Tag
	Stamp   []byte // 0..MaxStampLen bytes
	Payload []byte
}

// BlobID computes the ID of canonical envelope bytes.
func BlobID(env []byte) ID { return sha256.Sum256(env) }

// Len is the encoded size.
func (e *Envelope) Len() int { return envFixedLen + len(e.Stamp) + len(e.Payload) }

// Marshal encodes the envelope. It fails only for a stamp longer than MaxStampLen or a negative
// expiry.
func (e *Envelope) Marshal() ([]byte, error) {
	if len(e.Stamp) > MaxStampLen {
		return nil, fmt.Errorf("%w: stamp of %d bytes exceeds %d", ErrMalformed, len(e.Stamp), MaxStampLen)
	}
	if e.Expiry < 0 {
		return nil, fmt.Errorf("%w: negative expiry", ErrMalformed)
	}
	b := make([]byte, 0, e.Len())
	b = append(b, Version, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Expiry))
	b = append(b, e.Tag[:]...)
	b = append(b, byte(len(e.Stamp)))
	b = append(b, e.Stamp...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Payload)))
	return append(b, e.Payload...), nil
}

// ParseEnvelope decodes b strictly (PROTOCOL.md section 2). The returned envelope's Stamp and
// Payload alias b.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if len(b) < envFixedLen {
		return e, fmt.Errorf("%w: envelope of %d bytes is shorter than its header", ErrMalformed, len(b))
	}
	if b[0] != Version {
		return e, fmt.Errorf("%w: envelope version %d", ErrMalformed, b[0])
	}
	if b[1] != 0 {
		return e, fmt.Errorf("%w: reserved envelope flags set", ErrMalformed)
	}
	exp := binary.BigEndian.Uint64(b[offExpiry:])
	if exp > 1<<62 {
		return e, fmt.Errorf("%w: expiry out of range", ErrMalformed)
	}
	e.Expiry = int64(exp)
	copy(e.Tag[:], b[offTag:offTag+TagSize])
	s := int(b[offStampLen])
	if s > MaxStampLen {
		return e, fmt.Errorf("%w: stamp of %d bytes exceeds %d", ErrMalformed, s, MaxStampLen)
	}
	if len(b) < envFixedLen+s {
		return e, fmt.Errorf("%w: envelope truncated in its stamp", ErrMalformed)
	}
	if s > 0 {
		e.Stamp = b[envHeaderLen : envHeaderLen+s]
	}
	p := binary.BigEndian.Uint32(b[envHeaderLen+s:])
	if uint64(len(b)) != uint64(envFixedLen+s)+uint64(p) {
		return e, fmt.Errorf("%w: payload length %d does not match the %d bytes present", ErrMalformed, p, len(b)-envFixedLen-s)
	}
	e.Payload = b[envFixedLen+s:]
	return e, nil
}

// WithoutStamp returns the envelope bytes with stamp_len 0 (E0 of PROTOCOL.md section 6).
func (e *Envelope) WithoutStamp() []byte {
	c := *e
	c.Stamp = nil
	b, _ := c.Marshal()
	return b
}
