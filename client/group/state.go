package group

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// Group state layout (local, never on the wire; the client keeps it in its encrypted store,
// as it does its history). Counts are u16; all sections in the order below:
//
//	magic "ERGS" || version u8 (1) || group_id [16] || self_fp [32] || gone u8 (0 or 1) ||
//	commit_len u32 || commit (the current commit's payload)
//	epochs:   count × (epoch u32 || secret [32] || start_ms u64 || n u16 || n × fp [32])
//	formers:  count × (fp [32] || known u8 || n u16 || n × (generation u32 || end u32))
//	cutoffs:  count × (fp [32] || epoch u32 || n u16 || n × (generation u32 || end u32))
//	keys:     count × (fp [32] || keys_hash [32])                        (fps ascending)
//	own:      generation u32 || index u32 || chain_key [32] || ed25519_seed [32]
//	chains:   count × (sender [32] || generation u32 || epoch u32 || start u32 || index u32 ||
//	                   chain_key [32] || sig_pub [32])
//	skipped:  count × (sender [32] || generation u32 || index u32 || message_key [32]), oldest first
//	pending keys:  count × (from [32] || sender key payload [97])
//	pending blobs: count × (sender [32] || len u32 || blob)
const (
	stateMagic   = "ERGS"
	stateVersion = 1
)

// MarshalState encodes the group's whole state, secrets included, for the client's encrypted
// store. Control payloads queued but not yet sent are not part of it: a caller stores the
// state after the call that made them returned.
func (g *Group) MarshalState() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	cb, _ := g.cur.Marshal() // it parsed or was made checked
	b := append([]byte(stateMagic), stateVersion)
	b = append(b, g.id[:]...)
	b = append(b, g.cfg.Self[:]...)
	b = append(b, boolByte(g.gone))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cb)))
	b = append(b, cb...)

	b = u16(b, len(g.epochs))
	for _, e := range g.epochs {
		b = binary.BigEndian.AppendUint32(b, e.n)
		b = append(b, e.secret[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.start.UnixMilli()))
		fps := sortedFPs(e.members)
		b = u16(b, len(fps))
		for _, fp := range fps {
			b = append(b, fp[:]...)
		}
	}
	b = u16(b, len(g.formers))
	for _, fp := range sortedFPs(g.formers) {
		f := g.formers[fp]
		b = append(b, fp[:]...)
		b = append(b, boolByte(f.known))
		var ends []ChainEnd
		for gen, end := range f.ends {
			ends = append(ends, ChainEnd{Generation: gen, End: end})
		}
		b = appendEnds(b, ends)
	}
	b = u16(b, len(g.cutoffs))
	for _, fp := range sortedFPs(g.cutoffs) {
		x := g.cutoffs[fp]
		b = append(b, fp[:]...)
		b = binary.BigEndian.AppendUint32(b, x.epoch)
		b = appendEnds(b, x.ends)
	}
	b = u16(b, len(g.keys))
	for _, fp := range sortedFPs(g.keys) {
		k := g.keys[fp]
		b = append(b, fp[:]...)
		b = append(b, k[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, g.own.gen)
	b = binary.BigEndian.AppendUint32(b, g.own.index)
	b = append(b, g.own.ck[:]...)
	if g.own.sig != nil {
		b = append(b, g.own.sig.Seed()...)
	} else {
		b = append(b, make([]byte, ed25519.SeedSize)...)
	}
	var chains []*recvChain
	for _, fp := range sortedFPs(g.chains) {
		chains = append(chains, g.chains[fp]...)
	}
	b = u16(b, len(chains))
	for _, c := range chains {
		b = append(b, c.sender[:]...)
		for _, v := range []uint32{c.gen, c.epoch, c.start, c.index} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		b = append(b, c.ck[:]...)
		b = append(b, c.sigPub...)
	}
	var skipped []skipKey
	seen := map[skipKey]bool{}
	for _, k := range g.skipOrder {
		if _, ok := g.skipped[k]; ok && !seen[k] {
			seen[k] = true
			skipped = append(skipped, k)
		}
	}
	b = u16(b, len(skipped))
	for _, k := range skipped {
		mk := g.skipped[k]
		b = append(b, k.sender[:]...)
		b = binary.BigEndian.AppendUint32(b, k.gen)
		b = binary.BigEndian.AppendUint32(b, k.index)
		b = append(b, mk[:]...)
	}
	b = u16(b, len(g.pendingKeys))
	for _, p := range g.pendingKeys {
		b = append(b, p.from[:]...)
		b = append(b, p.key.Marshal()...)
	}
	b = u16(b, len(g.pendingBlobs))
	for _, p := range g.pendingBlobs {
		b = append(b, p.sender[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.blob)))
		b = append(b, p.blob...)
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func u16(b []byte, n int) []byte { return binary.BigEndian.AppendUint16(b, uint16(n)) }

func appendEnds(b []byte, ends []ChainEnd) []byte {
	slices.SortFunc(ends, func(a, b ChainEnd) int { return cmpU32(a.Generation, b.Generation) })
	b = u16(b, len(ends))
	for _, e := range ends {
		b = binary.BigEndian.AppendUint32(b, e.Generation)
		b = binary.BigEndian.AppendUint32(b, e.End)
	}
	return b
}

func sortedFPs[V any](m map[Fingerprint]V) []Fingerprint {
	out := make([]Fingerprint, 0, len(m))
	for fp := range m {
		out = append(out, fp)
	}
	slices.SortFunc(out, func(a, b Fingerprint) int { return cmpBytes(a[:], b[:]) })
	return out
}

func cmpBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

// RestoreGroup decodes a state made by MarshalState for the member cfg.Self. It checks the
// layout and every bound; a state that does not pass is refused whole (ErrMalformed).
func RestoreGroup(cfg Config, state []byte) (*Group, error) {
	g, err := parseState(cfg, state)
	if err != nil {
		return nil, fmt.Errorf("failed to restore group: %w", err)
	}
	return g, nil
}

func parseState(cfg Config, state []byte) (*Group, error) {
	bad := func(what string) error { return fmt.Errorf("%w: group state: %s", ErrMalformed, what) }
	if len(state) < 5 || string(state[:4]) != stateMagic || state[4] != stateVersion {
		return nil, bad("not a group state of version 1")
	}
	r := newReader(state[5:])
	var id ID
	copy(id[:], r.bytes(IDSize))
	var self Fingerprint
	copy(self[:], r.bytes(32))
	if r.ok && self != cfg.Self {
		return nil, bad("of another member")
	}
	g := newGroup(cfg, id)
	gone := r.u8()
	c, err := ParseCommit(r.bytes(int(r.u32())))
	if !r.ok {
		return nil, bad("cut short")
	}
	if err != nil || c.Group != id || gone > 1 {
		return nil, bad("its commit")
	}
	g.cur, g.hash, g.gone = c, c.Hash(), gone == 1

	n := r.u16()
	if n > MaxEpochs {
		return nil, bad("too many epochs")
	}
	for range n {
		e := &epochState{n: r.u32(), members: map[Fingerprint]bool{}}
		copy(e.secret[:], r.bytes(32))
		ms := r.u64()
		if ms > 1<<53 {
			return nil, bad("an epoch's time")
		}
		e.start, e.hk = time.UnixMilli(int64(ms)), headerKey(e.secret, id)
		m := r.u16()
		if m > MaxMembers {
			return nil, bad("an epoch's members")
		}
		for range m {
			e.members[Fingerprint(r.bytes(32))] = true
		}
		if len(g.epochs) > 0 && g.epochs[len(g.epochs)-1].n >= e.n {
			return nil, bad("epochs not ascending")
		}
		g.epochs = append(g.epochs, e)
	}
	if !g.gone && (len(g.epochs) == 0 || g.epochs[len(g.epochs)-1].n != c.Epoch) {
		return nil, bad("no secret of its current epoch")
	}
	n = r.u16()
	for range n {
		fp := Fingerprint(r.bytes(32))
		f := &former{known: r.u8() == 1, ends: map[uint32]uint32{}}
		ends, ok := readEnds(r)
		if !ok {
			return nil, bad("chain ends")
		}
		for _, e := range ends {
			f.ends[e.Generation] = e.End
		}
		g.formers[fp] = f
	}
	n = r.u16()
	for range n {
		fp := Fingerprint(r.bytes(32))
		x := cutoffAt{epoch: r.u32()}
		var ok bool
		if x.ends, ok = readEnds(r); !ok {
			return nil, bad("chain ends")
		}
		g.cutoffs[fp] = x
	}
	n = r.u16()
	if n > MaxEpochs*MaxMembers {
		return nil, bad("too many members' keys")
	}
	for range n {
		fp := Fingerprint(r.bytes(32))
		if _, dup := g.keys[fp]; dup {
			return nil, bad("a member's keys twice")
		}
		g.keys[fp] = [32]byte(r.bytes(32))
	}
	g.own.gen, g.own.index = r.u32(), r.u32()
	copy(g.own.ck[:], r.bytes(32))
	if seed := r.bytes(ed25519.SeedSize); !g.gone {
		g.own.sig = ed25519.NewKeyFromSeed(seed)
	}
	n = r.u16()
	for range n {
		c := &recvChain{sender: Fingerprint(r.bytes(32)), gen: r.u32(), epoch: r.u32(), start: r.u32(), index: r.u32()}
		copy(c.ck[:], r.bytes(32))
		c.sigPub = ed25519.PublicKey(slices.Clone(r.bytes(32)))
		if len(g.chains[c.sender]) == MaxGenerations || c.index < c.start {
			return nil, bad("a chain")
		}
		g.chains[c.sender] = append(g.chains[c.sender], c)
	}
	n = r.u16()
	if n > MaxSkipped {
		return nil, bad("too many skipped keys")
	}
	for range n {
		k := skipKey{sender: Fingerprint(r.bytes(32)), gen: r.u32(), index: r.u32()}
		if _, dup := g.skipped[k]; dup {
			return nil, bad("a skipped key twice")
		}
		g.skipped[k] = [32]byte(r.bytes(32))
		g.skipOrder = append(g.skipOrder, k)
	}
	n = r.u16()
	if n > MaxPendingKeys {
		return nil, bad("too many pending keys")
	}
	for range n {
		from := Fingerprint(r.bytes(32))
		k, err := ParseSenderKey(r.bytes(senderKeyLen))
		if r.ok && (err != nil || k.Group != id) {
			return nil, bad("a pending key")
		}
		g.pendingKeys = append(g.pendingKeys, pendingKey{from: from, key: k})
	}
	n = r.u16()
	if n > MaxPendingBlobs {
		return nil, bad("too many pending blobs")
	}
	for range n {
		sender := Fingerprint(r.bytes(32))
		blob := slices.Clone(r.bytes(int(r.u32())))
		g.pendingBytes += len(blob)
		g.pendingBlobs = append(g.pendingBlobs, pendingBlob{blob: blob, sender: sender})
	}
	if !r.ok || len(r.b) != 0 || g.pendingBytes > MaxPendingBytes {
		return nil, bad("cut short or trailing bytes")
	}
	if !bytes.Equal(g.MarshalState(), state) { // one encoding per state: order, flags, zeros
		return nil, bad("not in its canonical form")
	}
	return g, nil
}

func readEnds(r *reader) ([]ChainEnd, bool) {
	n := r.u16()
	if n > MaxGenerations {
		return nil, false
	}
	var ends []ChainEnd
	for range n {
		e := ChainEnd{Generation: r.u32(), End: r.u32()}
		if len(ends) > 0 && ends[len(ends)-1].Generation >= e.Generation {
			return nil, false
		}
		ends = append(ends, e)
	}
	return ends, r.ok
}
