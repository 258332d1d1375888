package ratchet

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

// Limits of the skipped-key store and of the remembered chains (PROTOCOL.md 7.8.5).
const (
	// MaxSkipPerChain is the most message keys one header may make a receiver skip in one
	// chain; a header asking for more is refused (ErrTooManySkipped) and changes nothing.
	MaxSkipPerChain = 1000
	// MaxSkipped is the most skipped keys a session keeps; beyond it the oldest are deleted
	// (their messages can no longer be opened and count as lost).
	MaxSkipped = 2000
	// MaxPastChains is how many retired receiving chains a session remembers (for their
	// mailbox tags and to tell a late duplicate from a peer whose state went back).
	MaxPastChains = 200
	// MaxAge is how long a skipped key or a retired chain is kept: a relay's longest blob
	// lifetime (30 days) plus a day of clock skew and delay.
	MaxAge = 31 * 24 * time.Hour
	// TagSkew is the clock difference the tag days allow for (echo's default skew).
	TagSkew = 10 * time.Minute
)

// Errors, one per expected condition.
var (
	// ErrNotMine: no header key of the session opens the header (another session, or
	// tampered).
	ErrNotMine = errors.New("not a message of this session")
	// ErrDuplicate: the header opens but its message key was used already (the same message
	// again, or a peer that restored an old state and reuses a position).
	ErrDuplicate = errors.New("message already opened")
	// ErrStale: the header opens with a retired chain's key at a position beyond that
	// chain's end: the peer's state went back (restored from a backup).
	ErrStale = errors.New("message from a state the peer already left")
	// ErrTampered: the header opens but the body does not authenticate.
	ErrTampered = errors.New("message body does not authenticate")
	// ErrMalformed: the bytes do not follow the layout.
	ErrMalformed = errors.New("malformed ratchet message")
	// ErrTooManySkipped: a header asks to skip more than MaxSkipPerChain keys.
	ErrTooManySkipped = errors.New("message would skip too many keys")
	// ErrCannotSend: the session has no sending chain yet (its starter waits for the peer's
	// first ratchet message).
	ErrCannotSend = errors.New("no sending chain yet")
	// ErrKEMMismatch: a header mixes a KEM secret this side does not hold.
	ErrKEMMismatch = errors.New("message mixes a KEM secret this side does not hold")
)

// Labels of the key derivations.
const (
	labelInit = "echorelay-ratchet-v1/init"
	labelRoot = "echorelay-ratchet-v1/root"
	labelBody = "echorelay-ratchet-v1/body"
	labelTag  = "echorelay-ratchet-v1/tag"
)

// Session is one side of a ratchet session.
type Session struct {
	rand io.Reader

	ad []byte // associated data of every message: the caller's binding (fingerprints, session ID)

	rk             [32]byte
	dhs, dhsPub    [32]byte
	dhr            [32]byte
	cks, ckr       [32]byte
	hks, hkr       [32]byte
	nhks, nhkr     [32]byte
	hasCKs, hasCKr bool
	ns, nr, pn     uint32
	sendEpoch      uint32 // KEM epoch mixed in the step that made the sending chain (0: none)
	hkrSince       uint64 // day (less TagSkew) the current receiving header key became known
	nhkrSince      uint64 // day (less TagSkew) the next receiving header key became known

	skipped []skippedKey
	past    []pastChain
	kem     kemState
}

type skippedKey struct {
	hk [32]byte
	n  uint32
	mk [32]byte
	at int64 // Unix seconds when it was stored
}

type pastChain struct {
	hk          [32]byte
	dh          [32]byte // the peer's ratchet key of the chain
	length      uint32   // messages of the chain (the peer's pn when it moved on)
	from, until uint64   // the days it was known (less TagSkew) and retired (plus TagSkew)
}

func day(t time.Time) uint64 { return uint64(max(t.Unix(), 0)) / 86400 }

// sinceDay is the first day a key that became known now can be in use by the peer's clock.
func sinceDay(now time.Time) uint64 { return day(now.Add(-TagSkew)) }

// initKeys derives the root key and the two shared header keys from the session secret.
func initKeys(secret []byte, ad []byte) (rk, hka, nhkb [32]byte) {
	b, err := hkdf.Key(sha256.New, secret, []byte(labelInit), string(ad), 96)
	if err != nil {
		panic(err) // unreachable: 96 bytes is far below HKDF's limit
	}
	copy(rk[:], b)
	copy(hka[:], b[32:])
	copy(nhkb[:], b[64:])
	return
}

// NewSender starts the side that sends the first ratchet message (Signal's Alice): it knows
// the peer's ratchet public key from the session start. ad binds the session (both
// fingerprints and the session ID); secret is the 32-byte session secret.
func NewSender(rand io.Reader, ad, secret []byte, peerPub [32]byte, now time.Time) (*Session, error) {
	rk, hka, nhkb := initKeys(secret, ad)
	s := &Session{rand: rand, ad: append([]byte(nil), ad...), rk: rk, dhr: peerPub, hks: hka, nhkr: nhkb, nhkrSince: sinceDay(now)}
	if err := s.newDH(); err != nil {
		return nil, err
	}
	out, err := dh(s.dhs, s.dhr)
	if err != nil {
		return nil, err
	}
	s.rk, s.cks, s.nhks = kdfRoot(s.rk, out, nil)
	s.hasCKs = true
	s.kem = kemState{epoch: 1, owner: true}
	if err := s.kem.makeKey(rand); err != nil {
		return nil, err
	}
	return s, nil
}

// NewReceiver starts the side that started the session (Signal's Bob): it made the ratchet
// key pair whose public half it sent, and can send only once the peer's first ratchet
// message arrived.
func NewReceiver(rand io.Reader, ad, secret []byte, priv [32]byte, now time.Time) (*Session, error) {
	rk, hka, nhkb := initKeys(secret, ad)
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("failed to start session: %w", err)
	}
	s := &Session{rand: rand, ad: append([]byte(nil), ad...), rk: rk, dhs: priv, nhks: nhkb, nhkr: hka, nhkrSince: sinceDay(now)}
	copy(s.dhsPub[:], pub)
	s.kem = kemState{epoch: 1}
	return s, nil
}

// NewKey makes an X25519 ratchet key pair for NewReceiver.
func NewKey(rand io.Reader) (priv, pub [32]byte, err error) {
	if _, err = io.ReadFull(rand, priv[:]); err != nil {
		return priv, pub, fmt.Errorf("failed to make a ratchet key: %w", err)
	}
	p, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		return priv, pub, fmt.Errorf("failed to make a ratchet key: %w", err)
	}
	copy(pub[:], p)
	return priv, pub, nil
}

func (s *Session) newDH() error {
	priv, pub, err := NewKey(s.rand)
	if err != nil {
		return err
	}
	s.dhs, s.dhsPub = priv, pub
	return nil
}

func dh(priv, pub [32]byte) ([]byte, error) {
	out, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return nil, fmt.Errorf("%w: bad ratchet key: %v", ErrMalformed, err)
	}
	return out, nil
}

// kdfRoot is KDF_RK_HE with the KEM secret (nil when none is mixed): HKDF-SHA-256 with the
// root key as salt over dh_out || kem_ss.
func kdfRoot(rk [32]byte, dhOut, kemSS []byte) (nrk, ck, nhk [32]byte) {
	ikm := append(append([]byte(nil), dhOut...), kemSS...)
	b, err := hkdf.Key(sha256.New, ikm, rk[:], labelRoot, 96)
	if err != nil {
		panic(err)
	}
	copy(nrk[:], b)
	copy(ck[:], b[32:])
	copy(nhk[:], b[64:])
	return
}

// kdfChain is KDF_CK: the message key and the next chain key.
func kdfChain(ck [32]byte) (mk, next [32]byte) {
	m := hmac.New(sha256.New, ck[:])
	m.Write([]byte{1})
	copy(mk[:], m.Sum(nil))
	m = hmac.New(sha256.New, ck[:])
	m.Write([]byte{2})
	copy(next[:], m.Sum(nil))
	return
}

func bodyKey(mk [32]byte) []byte {
	k, err := hkdf.Key(sha256.New, mk[:], nil, labelBody, chacha20poly1305.KeySize)
	if err != nil {
		panic(err)
	}
	return k
}

// CanSend reports whether the session has a sending chain.
func (s *Session) CanSend() bool { return s.hasCKs }

// Received reports whether a ratchet message from the peer was opened.
func (s *Session) Received() bool { return s.hasCKr }

// Missing is how many messages the session knows were sent but has not opened: its skipped
// keys (lost, or still on their way).
func (s *Session) Missing() int { return len(s.skipped) }

// KEMEpoch is the KEM ratchet's current epoch (1 at the start; each mixed secret adds one).
func (s *Session) KEMEpoch() uint32 { return s.kem.epoch }

// Message is a message to seal or an opened one.
type Message struct {
	Time    time.Time // the sender's clock, millisecond precision
	Type    uint8     // content type (PROTOCOL.md 7.4)
	Content []byte
}

// Opened is an opened message and where it sat in the session.
type Opened struct {
	Message
	Pos Position
}

// Position names a message within its session: the sender's ratchet key and the message's
// number in that chain. The same message received twice has the same Position.
type Position struct {
	DH [32]byte
	N  uint32
}

// Seal encrypts m as the next message of the sending chain and returns the payload.
func (s *Session) Seal(m Message) ([]byte, error) {
	if !s.hasCKs {
		return nil, ErrCannotSend
	}
	mk, next := kdfChain(s.cks)
	h := header{dh: s.dhsPub, pn: s.pn, n: s.ns, kemEpoch: s.sendEpoch}
	chunk := s.kem.outgoing()
	p, err := sealPayload(s.rand, s.ad, s.hks, mk, h, m, chunk)
	if err != nil {
		return nil, err
	}
	s.cks = next
	s.ns++
	return p, nil
}

// SendTag is the mailbox tag of a message sealed now (PROTOCOL.md 7.8.6).
func (s *Session) SendTag(now time.Time) [32]byte { return tagOf(s.hks, day(now)) }

func tagOf(hk [32]byte, d uint64) [32]byte {
	m := hmac.New(sha256.New, hk[:])
	m.Write([]byte(labelTag))
	m.Write(binary.BigEndian.AppendUint64(nil, d))
	var t [32]byte
	copy(t[:], m.Sum(nil))
	return t
}

// ReceiveTags lists the tags under which the peer's messages can arrive: the current and the
// next receiving header key from the day each became known, and the retired chains' over the
// days they were in use (TagSkew either side, so usually one day per chain), all within back
// days of now; newest keys first, at most max tags.
func (s *Session) ReceiveTags(now time.Time, back, max int) [][32]byte {
	today := day(now.Add(TagSkew))
	lo := uint64(0)
	if d := day(now); d > uint64(back) {
		lo = d - uint64(back)
	}
	var out [][32]byte
	add := func(hk [32]byte, from, until uint64) {
		for d := until; d >= from && d >= lo && len(out) < max; d-- {
			out = append(out, tagOf(hk, d))
			if d == 0 {
				break
			}
		}
	}
	add(s.nhkr, s.nhkrSince, today)
	if s.hasCKr {
		add(s.hkr, s.hkrSince, today)
	}
	for i := len(s.past) - 1; i >= 0; i-- {
		add(s.past[i].hk, s.past[i].from, s.past[i].until)
	}
	return out
}

// Prune deletes skipped keys and retired chains older than MaxAge.
func (s *Session) Prune(now time.Time) {
	cut := now.Add(-MaxAge).Unix()
	kept := s.skipped[:0]
	for _, k := range s.skipped {
		if k.at >= cut {
			kept = append(kept, k)
		}
	}
	clear(s.skipped[len(kept):])
	s.skipped = kept
	cd := day(now.Add(-MaxAge))
	pk := s.past[:0]
	for _, c := range s.past {
		if c.until >= cd {
			pk = append(pk, c)
		}
	}
	s.past = pk
}

// Open decrypts payload. It returns ErrNotMine when no header key of the session opens the
// header, ErrDuplicate or ErrStale (with the Position) when it does but the message key is
// gone, and changes the session only when the message opened.
func (s *Session) Open(payload []byte, now time.Time) (*Opened, error) {
	p, err := parsePayload(payload)
	if err != nil {
		return nil, err
	}
	t := s.clone()
	o, err := t.open(p, now)
	if err != nil {
		return o, err
	}
	t.Prune(now)
	*s = *t
	return o, nil
}

func (s *Session) open(p *payload, now time.Time) (*Opened, error) {
	// 1. a skipped key
	tried := map[[32]byte]bool{}
	for i := 0; i < len(s.skipped); i++ {
		k := s.skipped[i]
		if tried[k.hk] {
			continue
		}
		tried[k.hk] = true
		h, ok := p.openHeader(s.ad, k.hk)
		if !ok {
			continue
		}
		if dh, known := s.chainDH(k.hk); known && dh != h.dh {
			return &Opened{Pos: Position{h.dh, h.n}}, ErrStale
		}
		for j, sk := range s.skipped {
			if sk.hk == k.hk && sk.n == h.n {
				o, err := s.finish(p, h, sk.mk)
				if err != nil {
					return nil, err
				}
				s.skipped = append(s.skipped[:j], s.skipped[j+1:]...)
				return o, nil
			}
		}
		if !(s.hasCKr && k.hk == s.hkr) {
			return s.gone(h, k.hk)
		}
	}
	// 2. the current receiving chain
	if s.hasCKr {
		if h, ok := p.openHeader(s.ad, s.hkr); ok {
			if h.dh != s.dhr {
				// The chain's header key with another ratchet key: the peer started over
				// from an older state.
				return &Opened{Pos: Position{h.dh, h.n}}, ErrStale
			}
			if h.n < s.nr {
				return &Opened{Pos: Position{h.dh, h.n}}, ErrDuplicate
			}
			if err := s.skip(h.n, now); err != nil {
				return nil, err
			}
			return s.next(p, h)
		}
	}
	// 3. the next one: a DH ratchet step
	if h, ok := p.openHeader(s.ad, s.nhkr); ok {
		if s.hasCKr {
			if err := s.skip(h.pn, now); err != nil {
				return nil, err
			}
			s.retire(h.pn, now)
		}
		if err := s.step(h, now); err != nil {
			return nil, err
		}
		if err := s.skip(h.n, now); err != nil {
			return nil, err
		}
		return s.next(p, h)
	}
	// 4. a retired chain
	for i := len(s.past) - 1; i >= 0; i-- {
		if h, ok := p.openHeader(s.ad, s.past[i].hk); ok {
			return s.gone(h, s.past[i].hk)
		}
	}
	return nil, ErrNotMine
}

// gone classifies a header that opened with hk but has no message key left.
func (s *Session) gone(h header, hk [32]byte) (*Opened, error) {
	o := &Opened{Pos: Position{h.dh, h.n}}
	for _, c := range s.past {
		if c.hk == hk && (h.n >= c.length || h.dh != c.dh) {
			return o, ErrStale
		}
	}
	return o, ErrDuplicate
}

// chainDH is the peer's ratchet key of the receiving chain with header key hk.
func (s *Session) chainDH(hk [32]byte) ([32]byte, bool) {
	if s.hasCKr && hk == s.hkr {
		return s.dhr, true
	}
	for _, c := range s.past {
		if c.hk == hk {
			return c.dh, true
		}
	}
	return [32]byte{}, false
}

func (s *Session) next(p *payload, h header) (*Opened, error) {
	mk, next := kdfChain(s.ckr)
	o, err := s.finish(p, h, mk)
	if err != nil {
		return nil, err
	}
	s.ckr = next
	s.nr = h.n + 1
	return o, nil
}

func (s *Session) finish(p *payload, h header, mk [32]byte) (*Opened, error) {
	b, err := p.openBody(s.ad, mk)
	if err != nil {
		return nil, err
	}
	if b.chunk != nil {
		if err := s.kem.incoming(s.rand, b.chunk); err != nil {
			return nil, err
		}
	}
	return &Opened{Message: b.msg, Pos: Position{h.dh, h.n}}, nil
}

// skip stores the keys of the current receiving chain up to (not including) until.
func (s *Session) skip(until uint32, now time.Time) error {
	if !s.hasCKr || until <= s.nr {
		return nil
	}
	if until-s.nr > MaxSkipPerChain {
		return fmt.Errorf("%w: %d", ErrTooManySkipped, until-s.nr)
	}
	for s.nr < until {
		mk, next := kdfChain(s.ckr)
		s.skipped = append(s.skipped, skippedKey{hk: s.hkr, n: s.nr, mk: mk, at: now.Unix()})
		s.ckr = next
		s.nr++
	}
	if over := len(s.skipped) - MaxSkipped; over > 0 {
		clear(s.skipped[:over])
		s.skipped = append(s.skipped[:0], s.skipped[over:]...)
	}
	return nil
}

func (s *Session) retire(length uint32, now time.Time) {
	s.past = append(s.past, pastChain{hk: s.hkr, dh: s.dhr, length: length, from: s.hkrSince, until: day(now.Add(TagSkew))})
	if over := len(s.past) - MaxPastChains; over > 0 {
		s.past = append(s.past[:0], s.past[over:]...)
	}
}

// step is DHRatchetHE with the KEM ratchet's secrets mixed in.
func (s *Session) step(h header, now time.Time) error {
	var recvSS []byte
	if h.kemEpoch != 0 {
		ss, ok := s.kem.takePeerMix(h.kemEpoch)
		if !ok {
			return fmt.Errorf("%w: epoch %d", ErrKEMMismatch, h.kemEpoch)
		}
		recvSS = ss
		if err := s.kem.makeKey(s.rand); err != nil {
			return err
		}
	}
	s.pn, s.ns, s.nr = s.ns, 0, 0
	s.hks, s.hkr = s.nhks, s.nhkr
	s.hkrSince = s.nhkrSince
	s.dhr = h.dh
	out, err := dh(s.dhs, s.dhr)
	if err != nil {
		return err
	}
	s.rk, s.ckr, s.nhkr = kdfRoot(s.rk, out, recvSS)
	s.nhkrSince = sinceDay(now)
	s.hasCKr = true
	if err := s.newDH(); err != nil {
		return err
	}
	out, err = dh(s.dhs, s.dhr)
	if err != nil {
		return err
	}
	sendSS, epoch := s.kem.takeOwnMix()
	s.rk, s.cks, s.nhks = kdfRoot(s.rk, out, sendSS)
	s.sendEpoch = epoch
	s.hasCKs = true
	return nil
}

func (s *Session) clone() *Session {
	t := *s
	t.ad = append([]byte(nil), s.ad...)
	t.skipped = append([]skippedKey(nil), s.skipped...)
	t.past = append([]pastChain(nil), s.past...)
	t.kem = s.kem.clone()
	return &t
}

// Clone returns an independent copy of the session (a stolen state, in the tests).
func (s *Session) Clone() *Session { return s.clone() }

// SetRand sets the randomness source (Unmarshal leaves it nil: the caller sets it).
func (s *Session) SetRand(r io.Reader) { s.rand = r }
