package ratchet

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Ratchet payload layout (PROTOCOL.md 7.8.3):
//
//	offset  size   field
//	0       1      version u8, MUST be 0x02 (0x01 is the sealed payload of 7.3)
//	1       24     header_nonce
//	25      60     XChaCha20-Poly1305(HK, header_nonce, header, ad = AD || payload[0:1])
//	85      24     body_nonce
//	109     B+16   XChaCha20-Poly1305(body_key(MK), body_nonce, body, ad = AD || payload[0:109])
//
//	header = dh_pub [32] || pn u32 || n u32 || kem_epoch u32                       (44 bytes)
//	body   = time_ms u64 || content_type u8 || chunk_len u16 || chunk ||
//	         content_len u32 || content || zero bytes up to Pad(length)
//	chunk  = epoch u32 || kind u8 (1 key, 2 ciphertext) || index u8 || count u8 || data
const (
	// Version is the first byte of a ratchet payload.
	Version    = 0x02
	headerSize = 32 + 4 + 4 + 4
	nonceSize  = chacha20poly1305.NonceSizeX
	tagSize    = chacha20poly1305.Overhead
	headerEnd  = 1 + nonceSize + headerSize + tagSize // 85
	bodyStart  = headerEnd + nonceSize                // 109
	bodyFixed  = 8 + 1 + 2 + 4
	// Overhead is a payload's size beyond its padded body.
	Overhead = bodyStart + tagSize
	// MinBody is the smallest padding bucket: a short text with a KEM chunk fits it.
	MinBody = 768
	// MaxBody bounds a body: 16 MiB, eight times the relays' default largest blob.
	MaxBody = 16 << 20
)

// Pad is the size a body of n bytes is padded to: 768 bytes, then the next power of two up
// to 64 KiB, then Padmé (as PROTOCOL.md 7.3 for sizes above 64 KiB).
func Pad(n int) int {
	if n <= MinBody {
		return MinBody
	}
	if n <= 64<<10 {
		p := 1024
		for p < n {
			p <<= 1
		}
		return p
	}
	e := bitLen(n) - 1
	sb := bitLen(e)
	mask := (1 << (e - sb)) - 1
	return (n + mask) &^ mask
}

func bitLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// PayloadSize is the size of the payload of content of n bytes (with room for a KEM chunk).
func PayloadSize(n int) int { return Overhead + Pad(bodyFixed+MaxChunk+n) }

// MaxContent is the largest content whose payload is at most maxPayload bytes (and whose body
// is at most MaxBody).
func MaxContent(maxPayload int) int {
	lo, hi := 0, min(maxPayload, MaxBody-bodyFixed-MaxChunk)
	if PayloadSize(0) > maxPayload {
		return -1
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if PayloadSize(mid) <= maxPayload {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

type header struct {
	dh       [32]byte
	pn, n    uint32
	kemEpoch uint32
}

func (h header) marshal() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, h.dh[:]...)
	b = binary.BigEndian.AppendUint32(b, h.pn)
	b = binary.BigEndian.AppendUint32(b, h.n)
	return binary.BigEndian.AppendUint32(b, h.kemEpoch)
}

func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) != headerSize {
		return h, fmt.Errorf("%w: header of %d bytes", ErrMalformed, len(b))
	}
	copy(h.dh[:], b)
	h.pn = binary.BigEndian.Uint32(b[32:])
	h.n = binary.BigEndian.Uint32(b[36:])
	h.kemEpoch = binary.BigEndian.Uint32(b[40:])
	return h, nil
}

type body struct {
	msg   Message
	chunk *chunk
}

func (b *body) marshal() ([]byte, error) {
	n := bodyFixed + len(b.msg.Content)
	if b.chunk != nil {
		n += b.chunk.size()
	}
	if n > MaxBody {
		return nil, fmt.Errorf("failed to seal: a body of %d bytes is too large", n)
	}
	out := make([]byte, 0, Pad(n))
	out = binary.BigEndian.AppendUint64(out, uint64(b.msg.Time.UnixMilli()))
	out = append(out, b.msg.Type)
	if c := b.chunk; c != nil {
		out = binary.BigEndian.AppendUint16(out, uint16(c.size()))
		out = binary.BigEndian.AppendUint32(out, c.epoch)
		out = append(out, c.kind, c.index, c.count)
		out = append(out, c.data...)
	} else {
		out = binary.BigEndian.AppendUint16(out, 0)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.msg.Content)))
	out = append(out, b.msg.Content...)
	return append(out, make([]byte, Pad(n)-n)...), nil
}

func parseBody(b []byte) (*body, error) {
	if len(b) != Pad(len(b)) || len(b) < bodyFixed || len(b) > Pad(MaxBody) {
		return nil, fmt.Errorf("%w: body of %d bytes is not a bucket", ErrMalformed, len(b))
	}
	out := &body{}
	out.msg.Time = time.UnixMilli(int64(binary.BigEndian.Uint64(b)))
	out.msg.Type = b[8]
	cl := int(binary.BigEndian.Uint16(b[9:]))
	off := 11
	if cl != 0 {
		if cl < 7 || cl > MaxChunk || off+cl+4 > len(b) {
			return nil, fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, cl)
		}
		c := &chunk{epoch: binary.BigEndian.Uint32(b[off:]), kind: b[off+4], index: b[off+5], count: b[off+6]}
		c.data = append([]byte(nil), b[off+7:off+cl]...)
		if c.kind != kindEK && c.kind != kindCT {
			return nil, fmt.Errorf("%w: chunk kind %d", ErrMalformed, c.kind)
		}
		out.chunk = c
		off += cl
	}
	if off+4 > len(b) {
		return nil, fmt.Errorf("%w: content length beyond the body", ErrMalformed)
	}
	n := uint64(binary.BigEndian.Uint32(b[off:]))
	off += 4
	if uint64(off)+n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: content length beyond the body", ErrMalformed)
	}
	out.msg.Content = append([]byte(nil), b[off:off+int(n)]...)
	for _, z := range b[off+int(n):] {
		if z != 0 {
			return nil, fmt.Errorf("%w: non-zero padding", ErrMalformed)
		}
	}
	return out, nil
}

// payload is a parsed, still encrypted ratchet payload.
type payload struct {
	raw []byte
}

func parsePayload(b []byte) (*payload, error) {
	if len(b) < Overhead+MinBody || b[0] != Version {
		return nil, fmt.Errorf("%w: not a ratchet payload", ErrMalformed)
	}
	if n := len(b) - Overhead; n != Pad(n) {
		return nil, fmt.Errorf("%w: body of %d bytes is not a bucket", ErrMalformed, n)
	}
	return &payload{raw: b}, nil
}

// ParsePayload checks the layout of a ratchet payload without opening it.
func ParsePayload(b []byte) error {
	_, err := parsePayload(b)
	return err
}

func withAD(ad, b []byte) []byte { return append(append([]byte(nil), ad...), b...) }

func (p *payload) openHeader(ad []byte, hk [32]byte) (header, bool) {
	a, _ := chacha20poly1305.NewX(hk[:])
	pt, err := a.Open(nil, p.raw[1:1+nonceSize], p.raw[1+nonceSize:headerEnd], withAD(ad, p.raw[:1]))
	if err != nil {
		return header{}, false
	}
	h, err := parseHeader(pt)
	return h, err == nil
}

func (p *payload) openBody(ad []byte, mk [32]byte) (*body, error) {
	a, _ := chacha20poly1305.NewX(bodyKey(mk))
	pt, err := a.Open(nil, p.raw[headerEnd:bodyStart], p.raw[bodyStart:], withAD(ad, p.raw[:bodyStart]))
	if err != nil {
		return nil, ErrTampered
	}
	return parseBody(pt)
}

func sealPayload(rand io.Reader, ad []byte, hk, mk [32]byte, h header, m Message, c *chunk) ([]byte, error) {
	bd := &body{msg: m, chunk: c}
	pt, err := bd.marshal()
	if err != nil {
		return nil, err
	}
	out := make([]byte, bodyStart, Overhead+len(pt))
	out[0] = Version
	if _, err := io.ReadFull(rand, out[1:1+nonceSize]); err != nil {
		return nil, fmt.Errorf("failed to seal: %w", err)
	}
	ha, _ := chacha20poly1305.NewX(hk[:])
	ha.Seal(out[1+nonceSize:1+nonceSize], out[1:1+nonceSize], h.marshal(), withAD(ad, out[:1]))
	if _, err := io.ReadFull(rand, out[headerEnd:bodyStart]); err != nil {
		return nil, fmt.Errorf("failed to seal: %w", err)
	}
	ba, _ := chacha20poly1305.NewX(bodyKey(mk))
	return ba.Seal(out, out[headerEnd:bodyStart], pt, withAD(ad, out[:bodyStart])), nil
}
