package echo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Set reconciliation frames (PROTOCOL.md section 8). The numbers are on the wire.
const (
	FrameRecon   FrameType = 0x10 // session u32 || floor u64 || n u16 || n × range
	FrameWant    FrameType = 0x11 // req u32 || n u16 || n × id [32]
	FrameWantEnd FrameType = 0x12 // req u32 || missing u16
)

// FeatureReconcile is HELLO feature bit 0: the sender speaks set reconciliation.
const FeatureReconcile uint64 = 1 << 0

// Reconciliation sizes (PROTOCOL.md section 8).
const (
	MaxReconFrame    = 64 << 10 // largest RECON body a relay sends or accepts
	MinReconMaxBlob  = 64 << 10 // a relay with a smaller max_blob does not reconcile
	MaxReconRanges   = 1024     // ranges in one RECON
	MaxReconIDs      = 1024     // IDs in one range
	MaxWantIDs       = 64       // IDs in one WANT
	MaxWantsInFlight = 4        // unanswered WANTs a relay may have on one link
	FingerprintSize  = 16
	keySize          = 40 // expiry u64 || id [32]
	reconHeaderLen   = 14 // session u32 || floor u64 || n u16
)

// Key orders the blobs of a store for reconciliation: by Expiry, then ID bytes.
type Key struct {
	Expiry uint64
	ID     ID
}

// MaxKey is above every real key: the upper end of a reconciliation.
var MaxKey = Key{Expiry: ^uint64(0), ID: ID(bytes.Repeat([]byte{0xFF}, IDSize))}

// Compare orders keys: -1, 0 or +1.
func (k Key) Compare(o Key) int {
	switch {
	case k.Expiry < o.Expiry:
		return -1
	case k.Expiry > o.Expiry:
		return 1
	}
	return bytes.Compare(k.ID[:], o.ID[:])
}

// Next is the smallest key after k (k itself must be below MaxKey).
func (k Key) Next() Key {
	for i := IDSize - 1; i >= 0; i-- {
		k.ID[i]++
		if k.ID[i] != 0 {
			return k
		}
	}
	k.Expiry++
	return k
}

// ReconMode says what a range of a RECON carries.
type ReconMode uint8

// Range modes. The numbers are on the wire.
const (
	ModeSkip        ReconMode = 0 // settled: nothing to do
	ModeFingerprint ReconMode = 1 // count u32 || fingerprint [16]
	ModeIDList      ReconMode = 2 // k u16 || k × id: every ID the sender holds in the range
	ModeHave        ReconMode = 3 // k u16 || k × id: IDs the sender holds that the receiver lacks; settled
)

// Fingerprint summarises a set of IDs (PROTOCOL.md section 8).
type Fingerprint [FingerprintSize]byte

// Range is one range of a RECON; it starts where the previous one ended (the first at the
// session's floor) and ends before Upper.
type Range struct {
	Upper Key
	Mode  ReconMode
	Count uint32      // ModeFingerprint
	FP    Fingerprint // ModeFingerprint
	IDs   []ID        // ModeIDList, ModeHave
}

// Recon is one reconciliation message. No ranges means the sender is done.
type Recon struct {
	Session uint32
	Floor   uint64 // the session's lower end is (Floor, zero ID)
	Ranges  []Range
}

// Size is the length of the RECON body.
func (m Recon) Size() int {
	n := reconHeaderLen
	for _, r := range m.Ranges {
		n += r.size()
	}
	return n
}

func (r Range) size() int {
	switch r.Mode {
	case ModeFingerprint:
		return keySize + 1 + 4 + FingerprintSize
	case ModeIDList, ModeHave:
		return keySize + 1 + 2 + IDSize*len(r.IDs)
	}
	return keySize + 1
}

func (m Recon) Frame() Frame {
	b := make([]byte, 0, m.Size())
	b = binary.BigEndian.AppendUint32(b, m.Session)
	b = binary.BigEndian.AppendUint64(b, m.Floor)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Ranges)))
	for _, r := range m.Ranges {
		b = binary.BigEndian.AppendUint64(b, r.Upper.Expiry)
		b = append(b, r.Upper.ID[:]...)
		b = append(b, byte(r.Mode))
		switch r.Mode {
		case ModeFingerprint:
			b = binary.BigEndian.AppendUint32(b, r.Count)
			b = append(b, r.FP[:]...)
		case ModeIDList, ModeHave:
			b = binary.BigEndian.AppendUint16(b, uint16(len(r.IDs)))
			for _, id := range r.IDs {
				b = append(b, id[:]...)
			}
		}
	}
	return Frame{Type: FrameRecon, Body: b}
}

// ParseRecon decodes a RECON body. It checks the layout and that the ranges' upper bounds
// rise strictly from the floor; what the ranges claim is checked by the Reconciler.
func ParseRecon(b []byte) (Recon, error) {
	if len(b) > MaxReconFrame {
		return Recon{}, fmt.Errorf("%w: recon of %d bytes, the limit is %d", ErrMalformed, len(b), MaxReconFrame)
	}
	if len(b) < reconHeaderLen {
		return Recon{}, fmt.Errorf("%w: short recon", ErrMalformed)
	}
	m := Recon{Session: binary.BigEndian.Uint32(b), Floor: binary.BigEndian.Uint64(b[4:])}
	n := int(binary.BigEndian.Uint16(b[12:]))
	if n > MaxReconRanges {
		return Recon{}, fmt.Errorf("%w: recon with %d ranges, the limit is %d", ErrMalformed, n, MaxReconRanges)
	}
	b = b[reconHeaderLen:]
	prev := Key{Expiry: m.Floor}
	if n > 0 {
		m.Ranges = make([]Range, 0, min(n, len(b)/(keySize+1)))
	}
	for i := 0; i < n; i++ {
		if len(b) < keySize+1 {
			return Recon{}, fmt.Errorf("%w: recon range %d truncated", ErrMalformed, i)
		}
		r := Range{Upper: Key{Expiry: binary.BigEndian.Uint64(b)}, Mode: ReconMode(b[keySize])}
		copy(r.Upper.ID[:], b[8:keySize])
		b = b[keySize+1:]
		if r.Upper.Compare(prev) <= 0 {
			return Recon{}, fmt.Errorf("%w: recon range %d does not end above the previous one", ErrMalformed, i)
		}
		prev = r.Upper
		switch r.Mode {
		case ModeSkip:
		case ModeFingerprint:
			if len(b) < 4+FingerprintSize {
				return Recon{}, fmt.Errorf("%w: recon fingerprint %d truncated", ErrMalformed, i)
			}
			r.Count = binary.BigEndian.Uint32(b)
			copy(r.FP[:], b[4:])
			b = b[4+FingerprintSize:]
		case ModeIDList, ModeHave:
			if len(b) < 2 {
				return Recon{}, fmt.Errorf("%w: recon id list %d truncated", ErrMalformed, i)
			}
			k := int(binary.BigEndian.Uint16(b))
			if k > MaxReconIDs || len(b) < 2+k*IDSize {
				return Recon{}, fmt.Errorf("%w: recon id list %d of %d ids", ErrMalformed, i, k)
			}
			r.IDs = make([]ID, k)
			for j := range r.IDs {
				copy(r.IDs[j][:], b[2+j*IDSize:])
			}
			b = b[2+k*IDSize:]
		default:
			return Recon{}, fmt.Errorf("%w: recon range %d has unknown mode %d", ErrMalformed, i, r.Mode)
		}
		m.Ranges = append(m.Ranges, r)
	}
	if len(b) != 0 {
		return Recon{}, fmt.Errorf("%w: %d bytes after the last recon range", ErrMalformed, len(b))
	}
	return m, nil
}

// Want asks a neighbour for blobs by ID; it answers with a BLOB for each it holds, then
// WantEnd.
type Want struct {
	Req uint32
	IDs []ID // 1..MaxWantIDs
}

func (w Want) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 6+IDSize*len(w.IDs)), w.Req)
	b = binary.BigEndian.AppendUint16(b, uint16(len(w.IDs)))
	for _, id := range w.IDs {
		b = append(b, id[:]...)
	}
	return Frame{Type: FrameWant, Body: b}
}

func ParseWant(b []byte) (Want, error) {
	if len(b) < 6 {
		return Want{}, fmt.Errorf("%w: short want", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n == 0 || n > MaxWantIDs || len(b) != 6+n*IDSize {
		return Want{}, fmt.Errorf("%w: want of %d ids in %d bytes", ErrMalformed, n, len(b))
	}
	w := Want{Req: binary.BigEndian.Uint32(b), IDs: make([]ID, n)}
	for i := range w.IDs {
		copy(w.IDs[i][:], b[6+i*IDSize:])
	}
	return w, nil
}

// WantEnd closes the answer to a Want; Missing counts the IDs not sent (unknown, expired or
// evicted).
type WantEnd struct {
	Req     uint32
	Missing uint16
}

func (w WantEnd) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 6), w.Req)
	return Frame{Type: FrameWantEnd, Body: binary.BigEndian.AppendUint16(b, w.Missing)}
}

func ParseWantEnd(b []byte) (WantEnd, error) {
	if len(b) != 6 {
		return WantEnd{}, fmt.Errorf("%w: want end", ErrMalformed)
	}
	return WantEnd{Req: binary.BigEndian.Uint32(b), Missing: binary.BigEndian.Uint16(b[4:])}, nil
}

// fpAcc accumulates a fingerprint: the sum of the IDs as 256-bit big-endian numbers modulo
// 2^256, and their count. Order does not matter, so it is computed while streaming.
type fpAcc struct {
	sum [4]uint64 // sum[0] most significant
	n   uint64
}

func (a *fpAcc) add(id ID) {
	var carry uint64
	for i := 3; i >= 0; i-- {
		v := binary.BigEndian.Uint64(id[i*8:])
		s := a.sum[i] + v
		c1 := s < v
		s2 := s + carry
		c2 := s2 < s
		a.sum[i] = s2
		carry = 0
		if c1 || c2 {
			carry = 1
		}
	}
	a.n++
}

// fingerprint is SHA-256(sum [32] || count u64) truncated to 16 bytes.
func (a *fpAcc) fingerprint() Fingerprint {
	var b [40]byte
	for i, v := range a.sum {
		binary.BigEndian.PutUint64(b[i*8:], v)
	}
	binary.BigEndian.PutUint64(b[32:], a.n)
	h := sha256.Sum256(b[:])
	var fp Fingerprint
	copy(fp[:], h[:])
	return fp
}

// FingerprintOf computes the fingerprint of a set of IDs (for tests and other implementations).
func FingerprintOf(ids []ID) Fingerprint {
	var a fpAcc
	for _, id := range ids {
		a.add(id)
	}
	return a.fingerprint()
}
