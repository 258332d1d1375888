package group

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
	"golang.org/x/crypto/chacha20poly1305"
)

// Group blob layout (PROTOCOL.md "Groups", messages): one blob per message, the same bytes
// for every member, put once under the group's tag.
//
//	blob   = version u8 (1) || nonce [24] || XChaCha20-Poly1305(hk, nonce, hdr, ad = blob[0:25]) ||
//	         XChaCha20-Poly1305(mk, zero nonce, padded, ad = blob[0:81])
//	hdr    = sender_fp [32] || generation u32 || index u32                          (40 bytes)
//	inner  = time_ms u64 || msg_id [16] || content_type u8 || content_len u32 || content ||
//	         sig [64]
//	sig    = Ed25519(chain's signing key, "echorelay-group-msg-v1" 0x00 || group_id || hdr ||
//	         inner up to the end of content)
//	padded = inner || zero bytes up to Padded(len(inner))
const (
	blobVersion = 1
	msgLabel    = "echorelay-group-msg-v1\x00"
	hdrLen      = 32 + 4 + 4
	nonceLen    = chacha20poly1305.NonceSizeX
	aeadTag     = chacha20poly1305.Overhead
	hdrEnd      = 1 + nonceLen + hdrLen + aeadTag // 81: where the body starts
	innerFixed  = 8 + seal.MessageIDSize + 1 + 4
	sigLen      = ed25519.SignatureSize
	// envelopeReserve is what an envelope adds around a payload (PROTOCOL.md section 2), with
	// room for the largest stamp.
	envelopeReserve = 47 + 32
)

// header names the chain and the key of one message.
type header struct {
	sender Fingerprint
	gen    uint32
	index  uint32
}

func (h header) marshal() []byte {
	b := make([]byte, 0, hdrLen)
	b = append(b, h.sender[:]...)
	b = binary.BigEndian.AppendUint32(b, h.gen)
	return binary.BigEndian.AppendUint32(b, h.index)
}

// inner is a message's signed plaintext.
type inner struct {
	time    time.Time
	id      seal.MessageID
	typ     seal.ContentType
	content []byte
}

// Padded is the size an inner plaintext of n bytes is padded to: 256 bytes at least (a short
// text and its signature), then the next power of two up to 64 KiB, and above that Padmé (at
// most 12% overhead, a relay learns O(log log n) bits of the length): seal.PadSize's rule.
func Padded(n int) int { return seal.PadSize(n, 256) }

// BlobSize is the size of the blob of a message with n bytes of content. It does not depend
// on the number of members: a message is encrypted once for the whole group.
func BlobSize(n int) int { return hdrEnd + aeadTag + Padded(innerFixed+n+sigLen) }

// MaxContent is the largest content whose blob, wrapped in an envelope with a stamp, fits
// a relay's maxBlob; -1 when none does.
func MaxContent(maxBlob int) int {
	max := maxBlob - envelopeReserve
	if BlobSize(0) > max {
		return -1
	}
	lo, hi := 0, max
	for lo < hi { // the largest n with BlobSize(n) <= max
		mid := (lo + hi + 1) / 2
		if BlobSize(mid) <= max {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func signedPart(id ID, hdr []byte, in []byte) []byte {
	m := make([]byte, 0, len(msgLabel)+IDSize+len(hdr)+len(in))
	m = append(m, msgLabel...)
	m = append(m, id[:]...)
	m = append(m, hdr...)
	return append(m, in...)
}

// sealBlob builds the blob of one message. nonce is the header nonce (random in use, fixed in
// test vectors).
func sealBlob(id ID, hk, mk [32]byte, sig ed25519.PrivateKey, h header, in inner, nonce [nonceLen]byte) []byte {
	hdr := h.marshal()
	n := len(in.content)
	plain := make([]byte, 0, Padded(innerFixed+n+sigLen))
	plain = binary.BigEndian.AppendUint64(plain, uint64(in.time.UnixMilli()))
	plain = append(plain, in.id[:]...)
	plain = append(plain, byte(in.typ))
	plain = binary.BigEndian.AppendUint32(plain, uint32(n))
	plain = append(plain, in.content...)
	plain = append(plain, ed25519.Sign(sig, signedPart(id, hdr, plain))...)
	plain = plain[:Padded(len(plain))] // the capacity holds the padding, zero already

	blob := make([]byte, 0, hdrEnd+len(plain)+aeadTag)
	blob = append(blob, blobVersion)
	blob = append(blob, nonce[:]...)
	ha, _ := chacha20poly1305.NewX(hk[:])
	blob = ha.Seal(blob, nonce[:], hdr, blob[:1+nonceLen])
	ba, _ := chacha20poly1305.NewX(mk[:])
	return ba.Seal(blob, make([]byte, nonceLen), plain, blob[:hdrEnd])
}

// openHeader opens a blob's header with one epoch's header key.
func openHeader(blob []byte, hk [32]byte) (header, bool) {
	var h header
	if len(blob) < hdrEnd+aeadTag || blob[0] != blobVersion {
		return h, false
	}
	ha, _ := chacha20poly1305.NewX(hk[:])
	hdr, err := ha.Open(nil, blob[1:1+nonceLen], blob[1+nonceLen:hdrEnd], blob[:1+nonceLen])
	if err != nil {
		return h, false
	}
	copy(h.sender[:], hdr)
	h.gen = binary.BigEndian.Uint32(hdr[32:])
	h.index = binary.BigEndian.Uint32(hdr[36:])
	return h, true
}

// openBody decrypts and verifies a blob's body with its message key and its chain's
// signing key.
func openBody(blob []byte, id ID, h header, mk [32]byte, sigPub ed25519.PublicKey) (inner, error) {
	var in inner
	ba, _ := chacha20poly1305.NewX(mk[:])
	plain, err := ba.Open(nil, make([]byte, nonceLen), blob[hdrEnd:], blob[:hdrEnd])
	if err != nil {
		return in, fmt.Errorf("%w: body does not authenticate", ErrTampered)
	}
	in, end, err := parseInner(plain)
	if err != nil {
		return in, err
	}
	if !ed25519.Verify(sigPub, signedPart(id, h.marshal(), plain[:end-sigLen]), plain[end-sigLen:end]) {
		return in, fmt.Errorf("%w: signature does not verify", ErrTampered)
	}
	return in, nil
}

// parseInner reads a padded inner plaintext; end is where its signature ends.
func parseInner(plain []byte) (in inner, end int, err error) {
	if len(plain) != Padded(len(plain)) || len(plain) < innerFixed+sigLen {
		return in, 0, fmt.Errorf("%w: padded body of %d bytes", ErrMalformed, len(plain))
	}
	ms := binary.BigEndian.Uint64(plain)
	copy(in.id[:], plain[8:])
	in.typ = seal.ContentType(plain[24])
	n := uint64(binary.BigEndian.Uint32(plain[25:]))
	if n > uint64(len(plain)-innerFixed-sigLen) || ms > 1<<53 {
		return in, 0, fmt.Errorf("%w: content beyond the body", ErrMalformed)
	}
	end = innerFixed + int(n) + sigLen
	if len(plain) != Padded(end) { // the smallest bucket, as the sender pads: one encoding
		return in, 0, fmt.Errorf("%w: padded to %d bytes, not %d", ErrMalformed, len(plain), Padded(end))
	}
	for _, b := range plain[end:] {
		if b != 0 {
			return in, 0, fmt.Errorf("%w: padding not zero", ErrMalformed)
		}
	}
	in.time = time.UnixMilli(int64(ms))
	in.content = plain[innerFixed : innerFixed+int(n)]
	return in, end, nil
}
