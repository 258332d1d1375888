package echo

import (
	"fmt"
)

// SetStore is what reconciliation reads of a relay's cache. Package store implements it
// (through cmd/echorelay's adapter). Keys are compared as Key.Compare does.
type SetStore interface {
	// Keys returns up to limit keys of unexpired blobs in [from, to), in order.
	Keys(from, to Key, limit int) ([]Key, error)
	// Count is the number of unexpired blobs in [from, to).
	Count(from, to Key) (int, error)
	// Get returns the envelope of an unexpired blob.
	Get(id ID) (env []byte, ok bool, err error)
	// Has reports whether a blob is stored, also when it expired but was not swept yet.
	Has(id ID) (bool, error)
}

// Reconciliation tuning (PROTOCOL.md section 8 explains the choices).
const (
	ReconBuckets     = 16       // a mismatching range is split into this many fingerprints
	ReconIDList      = 64       // a side holding at most this many IDs in a range lists them
	ReconHaveMax     = 256      // an IDLIST is answered with HAVE when we hold at most its size + this
	reconBudget      = 32 << 10 // stop working on a message once the answer is this long
	reconRangeBudget = 512      // … or has this many ranges (the rest is deferred, see deferRest)
	keyPage          = 1024     // keys read from the store at a time
	haveLimit        = ReconHaveMax + ReconIDList
)

// Reconciler runs one side of one reconciliation session over a SetStore: range-based set
// reconciliation over (expiry, ID) keys with additive fingerprints, in the spirit of
// negentropy. It holds no state between messages beyond the session's floor, so both sides
// run the same code and memory stays bounded by one message whatever the stores hold: keys
// are streamed from the store a page at a time. It is not safe for concurrent use.
type Reconciler struct {
	set     SetStore
	session uint32
	floor   uint64
}

// NewReconciler starts a session: the initiator chooses session and floor (the lowest expiry
// worth reconciling) and calls Initiate; the responder takes both from the first RECON.
func NewReconciler(set SetStore, session uint32, floor uint64) *Reconciler {
	return &Reconciler{set: set, session: session, floor: floor}
}

// Session is the session number carried by every RECON of this session.
func (r *Reconciler) Session() uint32 { return r.session }

// reconOut builds an answer: consecutive skips merge and trailing skips are dropped.
type reconOut struct {
	m    Recon
	size int
}

func (o *reconOut) add(rg Range) {
	if n := len(o.m.Ranges); rg.Mode == ModeSkip && n > 0 && o.m.Ranges[n-1].Mode == ModeSkip {
		o.m.Ranges[n-1].Upper = rg.Upper
		return
	}
	o.m.Ranges = append(o.m.Ranges, rg)
	o.size += rg.size()
}

func (o *reconOut) finish() Recon {
	for n := len(o.m.Ranges); n > 0 && o.m.Ranges[n-1].Mode == ModeSkip; n-- {
		o.m.Ranges = o.m.Ranges[:n-1]
	}
	return o.m
}

func (r *Reconciler) out() *reconOut {
	return &reconOut{m: Recon{Session: r.session, Floor: r.floor}, size: reconHeaderLen}
}

// Initiate returns the first message of the session: the whole key space above the floor,
// as an ID list or split into fingerprinted buckets.
func (r *Reconciler) Initiate() (Recon, error) {
	o := r.out()
	if err := r.describe(o, Key{Expiry: r.floor}, MaxKey); err != nil {
		return Recon{}, err
	}
	m := o.finish()
	if len(m.Ranges) == 0 {
		// An empty first message would read as "done": send an empty ID list instead.
		m.Ranges = []Range{{Upper: MaxKey, Mode: ModeIDList}}
	}
	return m, nil
}

// Process answers a message of the other side. need is called for every ID the other side
// holds and this side lacks; full reports that the caller's list of needed IDs is long, so
// that the rest of the message is deferred to a later round (its ranges are answered with one
// fingerprint). An answer without ranges means this side is done; so does a received message
// without ranges (then the answer is empty too and need not be sent).
func (r *Reconciler) Process(m Recon, need func(ID), full func() bool) (Recon, error) {
	if m.Session != r.session || m.Floor != r.floor {
		return Recon{}, fmt.Errorf("%w: recon for session %d floor %d, expected %d floor %d", ErrMalformed, m.Session, m.Floor, r.session, r.floor)
	}
	o := r.out()
	lo := Key{Expiry: r.floor}
	worked := false
	for i, rg := range m.Ranges {
		if worked && rg.Mode != ModeSkip && (o.size > reconBudget || len(o.m.Ranges) > reconRangeBudget || full()) {
			if err := r.deferRest(o, lo, m.Ranges[i:]); err != nil {
				return Recon{}, err
			}
			break
		}
		var err error
		switch rg.Mode {
		case ModeSkip:
			o.add(Range{Upper: rg.Upper})
		case ModeFingerprint:
			worked = true
			err = r.onFingerprint(o, lo, rg)
		case ModeIDList:
			worked = true
			err = r.onIDList(o, lo, rg, need)
		case ModeHave:
			worked = true
			for _, id := range rg.IDs {
				need(id)
			}
			o.add(Range{Upper: rg.Upper})
		default:
			err = fmt.Errorf("%w: recon mode %d", ErrMalformed, rg.Mode)
		}
		if err != nil {
			return Recon{}, err
		}
		lo = rg.Upper
	}
	return o.finish(), nil
}

// deferRest answers the ranges left when the answer is long enough: with our fingerprints,
// one per range while they fit, otherwise one per group of consecutive ranges, so that the
// other side comes back to them next round at about the granularity reached so far.
func (r *Reconciler) deferRest(o *reconOut, lo Key, rest []Range) error {
	const fpSize = keySize + 1 + 4 + FingerprintSize
	slots := min((MaxReconFrame-o.size-64)/fpSize, MaxReconRanges-len(o.m.Ranges)-1)
	per := max((len(rest)+slots-1)/max(slots, 1), 1)
	for i := 0; i < len(rest); i += per {
		group := rest[i:min(i+per, len(rest))]
		hi := group[len(group)-1].Upper
		settled := true
		for _, g := range group {
			settled = settled && g.Mode == ModeSkip
		}
		if settled {
			o.add(Range{Upper: hi})
		} else {
			n, fp, err := r.fingerprint(lo, hi)
			if err != nil {
				return err
			}
			o.add(Range{Upper: hi, Mode: ModeFingerprint, Count: n, FP: fp})
		}
		lo = hi
	}
	return nil
}

func (r *Reconciler) onFingerprint(o *reconOut, lo Key, rg Range) error {
	n, fp, err := r.fingerprint(lo, rg.Upper)
	if err != nil {
		return err
	}
	if n == rg.Count && fp == rg.FP {
		o.add(Range{Upper: rg.Upper})
		return nil
	}
	if rg.Count == 0 && n <= ReconHaveMax {
		// The other side holds nothing here: everything we hold is what it lacks.
		keys, err := r.set.Keys(lo, rg.Upper, ReconHaveMax+1)
		if err != nil {
			return fmt.Errorf("failed to list keys: %w", err)
		}
		if len(keys) <= ReconHaveMax {
			o.add(Range{Upper: rg.Upper, Mode: ModeHave, IDs: ids(keys)})
			return nil
		}
	}
	return r.describe(o, lo, rg.Upper)
}

func (r *Reconciler) onIDList(o *reconOut, lo Key, rg Range, need func(ID)) error {
	keys, err := r.set.Keys(lo, rg.Upper, haveLimit+1)
	if err != nil {
		return fmt.Errorf("failed to list keys: %w", err)
	}
	if len(keys) > haveLimit {
		return r.split(o, lo, rg.Upper)
	}
	theirs := make(map[ID]bool, len(rg.IDs))
	for _, id := range rg.IDs {
		theirs[id] = false
	}
	var have []ID
	for _, k := range keys {
		if _, ok := theirs[k.ID]; ok {
			theirs[k.ID] = true
		} else {
			have = append(have, k.ID)
		}
	}
	for _, id := range rg.IDs {
		if !theirs[id] {
			need(id)
			theirs[id] = true // listed twice: need it once
		}
	}
	if len(have) == 0 {
		o.add(Range{Upper: rg.Upper})
	} else {
		o.add(Range{Upper: rg.Upper, Mode: ModeHave, IDs: have})
	}
	return nil
}

// describe sends what this side holds in [lo, hi): its IDs when they are few, otherwise
// fingerprinted buckets.
func (r *Reconciler) describe(o *reconOut, lo, hi Key) error {
	keys, err := r.set.Keys(lo, hi, ReconIDList+1)
	if err != nil {
		return fmt.Errorf("failed to list keys: %w", err)
	}
	if len(keys) <= ReconIDList {
		o.add(Range{Upper: hi, Mode: ModeIDList, IDs: ids(keys)})
		return nil
	}
	return r.split(o, lo, hi)
}

// split cuts [lo, hi) into ReconBuckets ranges holding about equally many of our keys and
// sends a fingerprint for each. The keys are streamed: two passes, no list of them is kept.
func (r *Reconciler) split(o *reconOut, lo, hi Key) error {
	c, err := r.set.Count(lo, hi)
	if err != nil {
		return fmt.Errorf("failed to count keys: %w", err)
	}
	per := max((c+ReconBuckets-1)/ReconBuckets, 1)
	var acc fpAcc
	i := 0
	err = r.each(lo, hi, func(k Key) {
		if i > 0 && i%per == 0 {
			o.add(Range{Upper: k, Mode: ModeFingerprint, Count: uint32(acc.n), FP: acc.fingerprint()})
			acc = fpAcc{}
		}
		acc.add(k.ID)
		i++
	})
	if err != nil {
		return err
	}
	o.add(Range{Upper: hi, Mode: ModeFingerprint, Count: uint32(acc.n), FP: acc.fingerprint()})
	return nil
}

func (r *Reconciler) fingerprint(lo, hi Key) (uint32, Fingerprint, error) {
	var acc fpAcc
	if err := r.each(lo, hi, func(k Key) { acc.add(k.ID) }); err != nil {
		return 0, Fingerprint{}, err
	}
	return uint32(acc.n), acc.fingerprint(), nil
}

// each streams the keys of [lo, hi) a page at a time.
func (r *Reconciler) each(lo, hi Key, fn func(Key)) error {
	for {
		keys, err := r.set.Keys(lo, hi, keyPage)
		if err != nil {
			return fmt.Errorf("failed to list keys: %w", err)
		}
		for _, k := range keys {
			fn(k)
		}
		if len(keys) < keyPage {
			return nil
		}
		last := keys[len(keys)-1]
		if last.Compare(MaxKey) >= 0 {
			return nil
		}
		lo = last.Next()
	}
}

func ids(keys []Key) []ID {
	out := make([]ID, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}
