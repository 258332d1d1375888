package ratchet

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// State layout (local, not on the wire; PROTOCOL.md 7.8.7). Client stores it sealed under the
// history key.
//
//	"ERS" || version u8 (1) || ad_len u16 || ad ||
//	rk, dhs, dhs_pub, dhr, cks, ckr, hks, hkr, nhks, nhkr [32 each] ||
//	flags u8 (bit 0 has_cks, bit 1 has_ckr) || ns u32 || pn u32 || nr u32 || send_epoch u32 ||
//	hkr_since u64 || nhkr_since u64 ||
//	kem_epoch u32 || kem_flags u8 (bit 0 owner, 1 has_key, 2 ready, 3 peer_has) || got u8 ||
//	next u8 || seed [64] || ek [1184] || ct [1088] || ss [32] ||
//	skipped_count u16 || (hk [32] || n u32 || mk [32] || at u64) * count ||
//	past_count u16 || (hk [32] || dh [32] || length u32 || from u64 || until u64) * count
const (
	stateMagic   = "ERS"
	stateVersion = 1
	maxAD        = 1024
)

// ErrBadState: stored session bytes do not parse.
var ErrBadState = errors.New("bad ratchet state")

func bit(b bool, n uint8) uint8 {
	if b {
		return 1 << n
	}
	return 0
}

// Marshal encodes the session for storage. It holds every secret of the session.
func (s *Session) Marshal() []byte {
	b := make([]byte, 0, 3000+len(s.ad)+len(s.skipped)*76+len(s.past)*84)
	b = append(b, stateMagic...)
	b = append(b, stateVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.ad)))
	b = append(b, s.ad...)
	for _, k := range []*[32]byte{&s.rk, &s.dhs, &s.dhsPub, &s.dhr, &s.cks, &s.ckr, &s.hks, &s.hkr, &s.nhks, &s.nhkr} {
		b = append(b, k[:]...)
	}
	b = append(b, bit(s.hasCKs, 0)|bit(s.hasCKr, 1))
	for _, v := range []uint32{s.ns, s.pn, s.nr, s.sendEpoch} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = binary.BigEndian.AppendUint64(b, s.hkrSince)
	b = binary.BigEndian.AppendUint64(b, s.nhkrSince)
	k := &s.kem
	b = binary.BigEndian.AppendUint32(b, k.epoch)
	b = append(b, bit(k.owner, 0)|bit(k.hasKey, 1)|bit(k.ready, 2)|bit(k.peerHas, 3), k.got, k.next)
	b = append(b, k.seed[:]...)
	b = append(b, k.ek[:]...)
	b = append(b, k.ct[:]...)
	b = append(b, k.ss[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.skipped)))
	for _, sk := range s.skipped {
		b = append(b, sk.hk[:]...)
		b = binary.BigEndian.AppendUint32(b, sk.n)
		b = append(b, sk.mk[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(sk.at))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.past)))
	for _, c := range s.past {
		b = append(b, c.hk[:]...)
		b = append(b, c.dh[:]...)
		b = binary.BigEndian.AppendUint32(b, c.length)
		b = binary.BigEndian.AppendUint64(b, c.from)
		b = binary.BigEndian.AppendUint64(b, c.until)
	}
	return b
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = fmt.Errorf("%w: truncated", ErrBadState)
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8   { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }
func (r *reader) key(k []byte) {
	copy(k, r.take(len(k)))
}

// Unmarshal decodes what Marshal made. The session has no randomness source until SetRand.
func Unmarshal(b []byte) (*Session, error) {
	r := &reader{b: b}
	if string(r.take(3)) != stateMagic || r.u8() != stateVersion {
		return nil, fmt.Errorf("%w: not a ratchet state of version %d", ErrBadState, stateVersion)
	}
	s := &Session{}
	n := int(r.u16())
	if n > maxAD {
		return nil, fmt.Errorf("%w: ad of %d bytes", ErrBadState, n)
	}
	s.ad = append([]byte{}, r.take(n)...)
	for _, k := range []*[32]byte{&s.rk, &s.dhs, &s.dhsPub, &s.dhr, &s.cks, &s.ckr, &s.hks, &s.hkr, &s.nhks, &s.nhkr} {
		r.key(k[:])
	}
	f := r.u8()
	if f&^3 != 0 {
		return nil, fmt.Errorf("%w: flags %#x", ErrBadState, f)
	}
	s.hasCKs, s.hasCKr = f&1 != 0, f&2 != 0
	s.ns, s.pn, s.nr, s.sendEpoch = r.u32(), r.u32(), r.u32(), r.u32()
	s.hkrSince, s.nhkrSince = r.u64(), r.u64()
	k := &s.kem
	k.epoch = r.u32()
	kf := r.u8()
	if kf&^15 != 0 {
		return nil, fmt.Errorf("%w: KEM flags %#x", ErrBadState, kf)
	}
	k.owner, k.hasKey, k.ready, k.peerHas = kf&1 != 0, kf&2 != 0, kf&4 != 0, kf&8 != 0
	k.got, k.next = r.u8(), r.u8()
	if k.got >= 1<<chunkCount || k.next >= chunkCount {
		return nil, fmt.Errorf("%w: KEM chunk state", ErrBadState)
	}
	r.key(k.seed[:])
	r.key(k.ek[:])
	r.key(k.ct[:])
	r.key(k.ss[:])
	n = int(r.u16())
	if n > MaxSkipped {
		return nil, fmt.Errorf("%w: %d skipped keys", ErrBadState, n)
	}
	for range n {
		var sk skippedKey
		r.key(sk.hk[:])
		sk.n = r.u32()
		r.key(sk.mk[:])
		sk.at = int64(r.u64())
		s.skipped = append(s.skipped, sk)
	}
	n = int(r.u16())
	if n > MaxPastChains {
		return nil, fmt.Errorf("%w: %d past chains", ErrBadState, n)
	}
	for range n {
		var c pastChain
		r.key(c.hk[:])
		r.key(c.dh[:])
		c.length = r.u32()
		c.from, c.until = r.u64(), r.u64()
		s.past = append(s.past, c)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadState, len(r.b))
	}
	return s, nil
}
