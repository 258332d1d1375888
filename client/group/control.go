package group

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/echorelay/echorelay/echo/seal"
)

// Commits and proposals travel pairwise, over the sessions between the admin and each member
// (the Transport's SendPairwise), never under a group tag; a sender key travels only inside
// a chain announcement (announce.go), under the group's tag. Layout (PROTOCOL.md "Groups", control payloads):
//
//	header    = magic "ERG" || version u8 (1) || kind u8 || group_id [16]          (21 bytes)
//	commit    = header || epoch u32 || time_ms u64 || admin_fp [32] || policy u8 ||
//	            name_len u8 || name || epoch_secret [32] || count u8 ||
//	            count × (member_fp [32] || keys_hash [32] || nick_len u8 || nick) ||
//	                                                                (fps strictly ascending)
//	            cut_count u8 || cut_count × (member_fp [32] || gen_count u8 ||
//	                            gen_count × (generation u32 || end u32))  (fps ascending)
//	senderkey = header || epoch u32 || generation u32 || index u32 || chain_key [32] ||
//	            sig_pub [32]                                                      (97 bytes)
//	proposal  = header || op u8 (1 add, 2 remove) || member_fp [32] || nick_len u8 || nick ||
//	            (op add only) keys_hash [32]
const (
	controlMagic   = "ERG"
	controlVersion = 1
	controlHeader  = 3 + 1 + 1 + IDSize
	senderKeyLen   = controlHeader + 4 + 4 + 4 + 32 + 32
	// MaxMembers bounds a group (the admin included): the class of up to 100.
	MaxMembers = 100
	// MaxNameLen bounds a group's name and a member's nick, in bytes of UTF-8.
	MaxNameLen = 64
	// IDSize is the size of a group ID.
	IDSize = 16
)

// ControlType is the control_type byte under which a pairwise message of content type 16
// (PROTOCOL.md 7.4, control) carries a group control payload: 0x01 || payload.
const ControlType byte = 1

// Kind says what a control payload is.
type Kind uint8

// Control kinds.
const (
	KindCommit    Kind = 1 // the admin's membership snapshot for one epoch (also the welcome)
	KindSenderKey Kind = 2 // a member's sender chain, inside its announcement (refused pairwise)
	KindProposal  Kind = 3 // a member asks the admin for a change (add, remove, leave)
)

// Policy says who may change a group's membership.
type Policy uint8

// Policies. In both, only the admin's device commits changes (it orders them); they differ in
// whose proposals it commits. Anybody may always leave.
const (
	PolicyAdmin Policy = 0 // only the admin adds and removes (a teacher's class)
	PolicyOpen  Policy = 1 // the admin's device commits any member's proposal automatically
)

// Op is the change a proposal asks for.
type Op uint8

// Proposal operations.
const (
	OpAdd    Op = 1
	OpRemove Op = 2 // a member proposing its own removal leaves
)

// ID identifies a group: 16 random bytes chosen by its admin. It never appears on the wire in
// clear.
type ID [IDSize]byte

// Fingerprint identifies a member: its identity bundle's fingerprint (PROTOCOL.md 7.1).
type Fingerprint = seal.Fingerprint

// SigKeysSize is the size of a member's long-term signature public keys:
// ed25519_pk [32] || mldsa65_pk [1952], as in its identity bundle (PROTOCOL.md 7.1).
const SigKeysSize = seal.SigningKeysSize

// SigKeys are a member's long-term signature public keys (seal.Bundle.SigningKeys). A member
// signs its chain announcements with them and puts them in each; the admin's commit names
// them by their hash, so a commit stays small.
type SigKeys = [SigKeysSize]byte

// KeyHash is what a commit names a member's signature keys by: SHA-256(sig_keys).
func KeyHash(k SigKeys) [32]byte { return sha256.Sum256(k[:]) }

// Member is one member of a group as the admin's commit names it.
type Member struct {
	FP      Fingerprint
	KeyHash [32]byte // KeyHash of its identity's signature keys, from the bundle the admin holds
	Nick    string   // what the admin calls it, at most MaxNameLen bytes
}

// Commit is the admin's full membership snapshot for one epoch. It is idempotent: applying
// the same commit twice, or an older one after a newer one, changes nothing.
type Commit struct {
	Group       ID
	Epoch       uint32 // 1 for the group's creation, +1 per change
	Time        time.Time
	Admin       Fingerprint
	Policy      Policy
	Name        string
	EpochSecret [32]byte // tags and header key of this epoch
	Members     []Member // sorted by FP, the admin included
	// Cutoffs names, for each member removed by this commit, where its chains end: the
	// others accept its messages below End (what the admin had received of it), none after.
	Cutoffs []Cutoff // sorted by FP, none of them a member
}

// Cutoff is where a removed member's chains end.
type Cutoff struct {
	FP   Fingerprint
	Ends []ChainEnd // at most MaxGenerations, generations ascending
}

// ChainEnd is the first index of one generation that is no longer accepted.
type ChainEnd struct {
	Generation uint32
	End        uint32
}

// SenderKey is a member's sender chain as its announcement carries it: from Index on, the
// receiver can derive its message keys, never the earlier ones.
type SenderKey struct {
	Group      ID
	Epoch      uint32 // the sender's epoch when it made this payload
	Generation uint32 // 0 at join, +1 per rotation
	Index      uint32 // the index ChainKey derives
	ChainKey   [32]byte
	SigPub     [32]byte // the Ed25519 key the chain's messages are signed with
}

// Proposal asks the admin for a change.
type Proposal struct {
	Group   ID
	Op      Op
	FP      Fingerprint
	Nick    string   // for OpAdd; empty for OpRemove
	KeyHash [32]byte // for OpAdd: KeyHash of the member's signature keys, as the proposer holds them
}

func appendHeader(b []byte, k Kind, id ID) []byte {
	b = append(b, controlMagic...)
	b = append(b, controlVersion, byte(k))
	return append(b, id[:]...)
}

// PeekControl reads the kind and group of a control payload without parsing the rest.
func PeekControl(p []byte) (Kind, ID, error) {
	var id ID
	if len(p) < controlHeader || string(p[:3]) != controlMagic {
		return 0, id, fmt.Errorf("%w: not a group control payload", ErrMalformed)
	}
	if p[3] != controlVersion {
		return 0, id, fmt.Errorf("%w: control version %d", ErrMalformed, p[3])
	}
	k := Kind(p[4])
	if k < KindCommit || k > KindProposal {
		return 0, id, fmt.Errorf("%w: control kind %d", ErrMalformed, k)
	}
	copy(id[:], p[5:controlHeader])
	return k, id, nil
}

func validName(s string, allowEmpty bool) bool {
	return len(s) <= MaxNameLen && utf8.ValidString(s) && (allowEmpty || s != "")
}

// Marshal encodes the commit. It fails for a commit that ParseCommit would refuse.
func (c *Commit) Marshal() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	b := appendHeader(make([]byte, 0, 256+len(c.Members)*(97+32)), KindCommit, c.Group)
	b = binary.BigEndian.AppendUint32(b, c.Epoch)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixMilli()))
	b = append(b, c.Admin[:]...)
	b = append(b, byte(c.Policy), byte(len(c.Name)))
	b = append(b, c.Name...)
	b = append(b, c.EpochSecret[:]...)
	b = append(b, byte(len(c.Members)))
	for _, m := range c.Members {
		b = append(b, m.FP[:]...)
		b = append(b, m.KeyHash[:]...)
		b = append(b, byte(len(m.Nick)))
		b = append(b, m.Nick...)
	}
	b = append(b, byte(len(c.Cutoffs)))
	for _, x := range c.Cutoffs {
		b = append(b, x.FP[:]...)
		b = append(b, byte(len(x.Ends)))
		for _, e := range x.Ends {
			b = binary.BigEndian.AppendUint32(b, e.Generation)
			b = binary.BigEndian.AppendUint32(b, e.End)
		}
	}
	return b, nil
}

func (c *Commit) check() error {
	switch {
	case c.Epoch == 0:
		return fmt.Errorf("%w: commit epoch 0", ErrMalformed)
	case c.Policy > PolicyOpen:
		return fmt.Errorf("%w: policy %d", ErrMalformed, c.Policy)
	case !validName(c.Name, false):
		return fmt.Errorf("%w: group name of %d bytes", ErrMalformed, len(c.Name))
	case c.EpochSecret == [32]byte{}:
		return fmt.Errorf("%w: zero epoch secret", ErrMalformed)
	case len(c.Members) == 0 || len(c.Members) > MaxMembers:
		return fmt.Errorf("%w: %d members", ErrMalformed, len(c.Members))
	case c.Time.UnixMilli() < 0:
		return fmt.Errorf("%w: commit time before 1970", ErrMalformed)
	}
	admin := false
	for i, m := range c.Members {
		if i > 0 && bytes.Compare(c.Members[i-1].FP[:], m.FP[:]) >= 0 {
			return fmt.Errorf("%w: members not in ascending order", ErrMalformed)
		}
		if !validName(m.Nick, true) {
			return fmt.Errorf("%w: nick of %d bytes", ErrMalformed, len(m.Nick))
		}
		if m.KeyHash == [32]byte{} {
			return fmt.Errorf("%w: a member without its keys' hash", ErrMalformed)
		}
		admin = admin || m.FP == c.Admin
	}
	if !admin {
		return fmt.Errorf("%w: the admin is not a member", ErrMalformed)
	}
	if len(c.Cutoffs) > MaxMembers {
		return fmt.Errorf("%w: %d cutoffs", ErrMalformed, len(c.Cutoffs))
	}
	for i, x := range c.Cutoffs {
		if i > 0 && bytes.Compare(c.Cutoffs[i-1].FP[:], x.FP[:]) >= 0 {
			return fmt.Errorf("%w: cutoffs not in ascending order", ErrMalformed)
		}
		if c.member(x.FP) >= 0 {
			return fmt.Errorf("%w: a cutoff for a member", ErrMalformed)
		}
		if len(x.Ends) > MaxGenerations {
			return fmt.Errorf("%w: %d chain ends", ErrMalformed, len(x.Ends))
		}
		for j := 1; j < len(x.Ends); j++ {
			if x.Ends[j-1].Generation >= x.Ends[j].Generation {
				return fmt.Errorf("%w: chain ends not in ascending order", ErrMalformed)
			}
		}
	}
	return nil
}

// ParseCommit decodes and checks a commit payload: one encoding per commit, so parse then
// marshal gives the same bytes.
func ParseCommit(p []byte) (*Commit, error) {
	k, id, err := PeekControl(p)
	if err != nil {
		return nil, err
	}
	if k != KindCommit {
		return nil, fmt.Errorf("%w: kind %d is not a commit", ErrMalformed, k)
	}
	r := newReader(p[controlHeader:])
	c := &Commit{Group: id}
	c.Epoch = r.u32()
	ms := r.u64()
	copy(c.Admin[:], r.bytes(32))
	c.Policy = Policy(r.u8())
	c.Name = string(r.bytes(int(r.u8())))
	copy(c.EpochSecret[:], r.bytes(32))
	n := int(r.u8())
	for i := 0; i < n && r.ok; i++ {
		var m Member
		copy(m.FP[:], r.bytes(32))
		copy(m.KeyHash[:], r.bytes(32))
		m.Nick = string(r.bytes(int(r.u8())))
		c.Members = append(c.Members, m)
	}
	n = int(r.u8())
	for i := 0; i < n && r.ok; i++ {
		var x Cutoff
		copy(x.FP[:], r.bytes(32))
		g := int(r.u8())
		for j := 0; j < g && r.ok; j++ {
			x.Ends = append(x.Ends, ChainEnd{Generation: r.u32(), End: r.u32()})
		}
		c.Cutoffs = append(c.Cutoffs, x)
	}
	if !r.ok || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: commit of %d bytes", ErrMalformed, len(p))
	}
	if ms > 1<<53 {
		return nil, fmt.Errorf("%w: commit time out of range", ErrMalformed)
	}
	c.Time = time.UnixMilli(int64(ms))
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Hash identifies a commit's content; two commits of one epoch with different hashes are a
// fork.
func (c *Commit) Hash() [32]byte {
	b, _ := c.Marshal()
	return sha256.Sum256(b)
}

// member returns the index of fp in c.Members, or -1.
func (c *Commit) member(fp Fingerprint) int {
	i, ok := slices.BinarySearchFunc(c.Members, fp, func(m Member, fp Fingerprint) int {
		return bytes.Compare(m.FP[:], fp[:])
	})
	if !ok {
		return -1
	}
	return i
}

// Marshal encodes the sender key payload.
func (k *SenderKey) Marshal() []byte {
	b := appendHeader(make([]byte, 0, senderKeyLen), KindSenderKey, k.Group)
	b = binary.BigEndian.AppendUint32(b, k.Epoch)
	b = binary.BigEndian.AppendUint32(b, k.Generation)
	b = binary.BigEndian.AppendUint32(b, k.Index)
	b = append(b, k.ChainKey[:]...)
	return append(b, k.SigPub[:]...)
}

// ParseSenderKey decodes a sender key payload.
func ParseSenderKey(p []byte) (*SenderKey, error) {
	k, id, err := PeekControl(p)
	if err != nil {
		return nil, err
	}
	if k != KindSenderKey || len(p) != senderKeyLen {
		return nil, fmt.Errorf("%w: sender key of %d bytes (kind %d)", ErrMalformed, len(p), k)
	}
	r := newReader(p[controlHeader:])
	s := &SenderKey{Group: id, Epoch: r.u32(), Generation: r.u32(), Index: r.u32()}
	copy(s.ChainKey[:], r.bytes(32))
	copy(s.SigPub[:], r.bytes(32))
	if s.Epoch == 0 {
		return nil, fmt.Errorf("%w: sender key of epoch 0", ErrMalformed)
	}
	return s, nil
}

// Marshal encodes the proposal. It fails for one that ParseProposal would refuse.
func (p *Proposal) Marshal() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	b := appendHeader(make([]byte, 0, controlHeader+34+len(p.Nick)+32), KindProposal, p.Group)
	b = append(b, byte(p.Op))
	b = append(b, p.FP[:]...)
	b = append(b, byte(len(p.Nick)))
	b = append(b, p.Nick...)
	if p.Op == OpAdd {
		b = append(b, p.KeyHash[:]...)
	}
	return b, nil
}

func (p *Proposal) check() error {
	if p.Op != OpAdd && p.Op != OpRemove {
		return fmt.Errorf("%w: proposal op %d", ErrMalformed, p.Op)
	}
	if !validName(p.Nick, true) || (p.Op == OpRemove && p.Nick != "") {
		return fmt.Errorf("%w: proposal nick of %d bytes", ErrMalformed, len(p.Nick))
	}
	if (p.Op == OpAdd) == (p.KeyHash == [32]byte{}) {
		return fmt.Errorf("%w: proposal keys", ErrMalformed)
	}
	return nil
}

// ParseProposal decodes a proposal payload.
func ParseProposal(b []byte) (*Proposal, error) {
	k, id, err := PeekControl(b)
	if err != nil {
		return nil, err
	}
	if k != KindProposal {
		return nil, fmt.Errorf("%w: kind %d is not a proposal", ErrMalformed, k)
	}
	r := newReader(b[controlHeader:])
	p := &Proposal{Group: id, Op: Op(r.u8())}
	copy(p.FP[:], r.bytes(32))
	p.Nick = string(r.bytes(int(r.u8())))
	if p.Op == OpAdd {
		copy(p.KeyHash[:], r.bytes(32))
	}
	if !r.ok || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: proposal of %d bytes", ErrMalformed, len(b))
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// reader reads big-endian fields; after the first short read ok is false and every later read
// returns zeros.
type reader struct {
	b  []byte
	ok bool
}

func newReader(b []byte) *reader { return &reader{b: b, ok: true} }

func (r *reader) bytes(n int) []byte {
	if !r.ok || len(r.b) < n {
		r.ok, r.b = false, nil
		if n > SigKeysSize { // a length field out of range: allocate nothing for it
			return nil
		}
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8   { return r.bytes(1)[0] }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.bytes(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.bytes(8)) }

func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.bytes(2)) }
