package seal

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/chacha20poly1305"
)

// Invite blob layouts (PROTOCOL.md section 7.2):
//
//	blob     = version u8 (2) || role u8 (1 inviter, 2 acceptor) || nonce [24] ||
//	           XChaCha20-Poly1305(K("bundle-inviter" | "bundle-acceptor"), nonce, pt, ad = version || role)
//	inviter  pt = bundle_len u32 || bundle || nick_len u8 || nick || ed25519_sig [64] || mldsa65_sig [3309]
//	           signed: "echorelay-invite-inviter-v2\x00" || K("transcript") || inviter_fp || nick_len || nick
//	answer   pt = body || ed25519_sig [64] || mldsa65_sig [3309] || confirm [32]
//	         body = inviter_fp [32] || bundle_len u32 || bundle || ct_len u32 || kem_ct ||
//	                nick_len u8 || nick || relay_len u8 || relay || relay_fp [32]
//	         th = SHA3-256("echorelay-invite-transcript-v2\x00" || K("transcript") || body)
//	         signed: "echorelay-invite-answer-v2\x00" || th
//	         pair = HKDF-SHA3-256(ikm = kem_ss || secret, salt = "echorelay-pair-v2", info = th, 32)
//	         confirm = HMAC-SHA256(HKDF-SHA3-256(ikm = pair, salt = "", info = "echorelay-invite-v2/confirm", 32), th)
const (
	inviteBlobVersion  = 2
	roleInviter        = 1
	roleAcceptor       = 2
	inviterSigLabel    = "echorelay-invite-inviter-v2\x00"
	answerSigLabel     = "echorelay-invite-answer-v2\x00"
	transcriptLabel    = "echorelay-invite-transcript-v2\x00"
	pairSalt           = "echorelay-pair-v2"
	confirmInfo        = "echorelay-invite-v2/confirm"
	confirmSize        = 32
	maxKEMCiphertext   = 1 << 16
	inviteBlobOverhead = 2 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
)

// AnswerInfo is what an acceptor tells the inviter about itself besides its bundle: the name it
// suggests and the relay it can be reached through (address and key fingerprint, empty and zero
// when unknown).
type AnswerInfo struct {
	Nick, Relay string
	RelayFP     [32]byte
}

// Answer is an opened, verified invite answer, as the inviter sees it.
type Answer struct {
	Acceptor *Bundle
	Nick     string
	Relay    string
	RelayFP  [32]byte
	Pair     []byte // the pair secret (PROTOCOL.md 7.5)
}

func blobKey(inv Invite, role byte) []byte {
	if role == roleAcceptor {
		return inv.derive("bundle-acceptor")
	}
	return inv.derive("bundle-inviter")
}

func (inv Invite) sealBlob(role byte, nonce, pt []byte) []byte {
	aead, err := chacha20poly1305.NewX(blobKey(inv, role))
	if err != nil {
		panic(err) // unreachable: the key is 32 bytes
	}
	out := make([]byte, 0, inviteBlobOverhead+len(pt))
	out = append(out, inviteBlobVersion, role)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, pt, out[:2])
}

// openBlob undoes sealBlob. Its errors wrap ErrMalformed or ErrTampered: nothing here tells a
// blob of another code from a damaged one.
func (inv Invite) openBlob(role byte, b []byte) ([]byte, error) {
	if len(b) < inviteBlobOverhead || b[0] != inviteBlobVersion || b[1] != role {
		return nil, fmt.Errorf("%w: not a version %d invite blob of this role", ErrMalformed, inviteBlobVersion)
	}
	aead, err := chacha20poly1305.NewX(blobKey(inv, role))
	if err != nil {
		return nil, err
	}
	nonce := b[2 : 2+chacha20poly1305.NonceSizeX]
	pt, err := aead.Open(nil, nonce, b[2+chacha20poly1305.NonceSizeX:], b[:2])
	if err != nil {
		return nil, fmt.Errorf("%w: invite blob does not authenticate under this code", ErrTampered)
	}
	return pt, nil
}

func randomNonce() ([]byte, error) {
	n := make([]byte, chacha20poly1305.NonceSizeX)
	_, err := rand.Read(n)
	return n, err
}

// fieldReader takes length-prefixed fields off the front of b.
type fieldReader struct {
	b  []byte
	ok bool
}

func (r *fieldReader) fixed(n int) []byte {
	if !r.ok || len(r.b) < n {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *fieldReader) u32Bytes(limit uint64) []byte {
	l := r.fixed(4)
	if !r.ok {
		return nil
	}
	n := uint64(binary.BigEndian.Uint32(l))
	if n > limit || uint64(len(r.b)) < n {
		r.ok = false
		return nil
	}
	return r.fixed(int(n))
}

func (r *fieldReader) u8String(limit int) string {
	l := r.fixed(1)
	if !r.ok {
		return ""
	}
	if int(l[0]) > limit {
		r.ok = false
		return ""
	}
	s := r.fixed(int(l[0]))
	if !utf8.Valid(s) {
		r.ok = false
	}
	return string(s)
}

// inviterFields is the inviter blob's plaintext, parsed for layout only.
type inviterFields struct {
	bundle []byte
	nick   string
	sigs   []byte
}

func (f inviterFields) marshal() []byte {
	b := make([]byte, 0, 4+len(f.bundle)+1+len(f.nick)+len(f.sigs))
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.bundle)))
	b = append(b, f.bundle...)
	b = append(b, byte(len(f.nick)))
	b = append(b, f.nick...)
	return append(b, f.sigs...)
}

func parseInviterFields(pt []byte) (inviterFields, error) {
	r := fieldReader{b: pt, ok: true}
	f := inviterFields{bundle: r.u32Bytes(uint64(len(pt))), nick: r.u8String(maxNickLen), sigs: r.fixed(sigsSize)}
	if !r.ok || len(r.b) != 0 {
		return inviterFields{}, fmt.Errorf("%w: inviter blob fields", ErrMalformed)
	}
	return f, nil
}

// inviterSigned is the message the inviter signs (after inviterSigLabel).
func (inv Invite) inviterSigned(fp Fingerprint, nick string) []byte {
	m := append(inv.derive("transcript"), fp[:]...)
	m = append(m, byte(len(nick)))
	return append(m, nick...)
}

// answerFields is the answer's plaintext, parsed for layout only.
type answerFields struct {
	inviter Fingerprint
	bundle  []byte
	ct      []byte
	nick    string
	relay   string
	relayFP [32]byte
	sigs    []byte
	confirm [confirmSize]byte
}

func (f *answerFields) body() []byte {
	b := make([]byte, 0, 32+4+len(f.bundle)+4+len(f.ct)+1+len(f.nick)+1+len(f.relay)+32+sigsSize+confirmSize)
	b = append(b, f.inviter[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.bundle)))
	b = append(b, f.bundle...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.ct)))
	b = append(b, f.ct...)
	b = append(b, byte(len(f.nick)))
	b = append(b, f.nick...)
	b = append(b, byte(len(f.relay)))
	b = append(b, f.relay...)
	return append(b, f.relayFP[:]...)
}

func (f *answerFields) marshal() []byte {
	return append(append(f.body(), f.sigs...), f.confirm[:]...)
}

func parseAnswerFields(pt []byte) (answerFields, error) {
	r := fieldReader{b: pt, ok: true}
	var f answerFields
	copy(f.inviter[:], r.fixed(FingerprintSize))
	f.bundle = r.u32Bytes(uint64(len(pt)))
	f.ct = r.u32Bytes(maxKEMCiphertext)
	f.nick = r.u8String(maxNickLen)
	f.relay = r.u8String(maxRelayLen)
	copy(f.relayFP[:], r.fixed(32))
	f.sigs = r.fixed(sigsSize)
	copy(f.confirm[:], r.fixed(confirmSize))
	if !r.ok || len(r.b) != 0 {
		return answerFields{}, fmt.Errorf("%w: answer fields", ErrMalformed)
	}
	return f, nil
}

// transcript is th: what the acceptor signs, and the context of the pair secret.
func (inv Invite) transcript(body []byte) [32]byte {
	h := sha3.New256()
	h.Write([]byte(transcriptLabel))
	h.Write(inv.derive("transcript"))
	h.Write(body)
	return [32]byte(h.Sum(nil))
}

// pair is the pair secret. The KEM share means that somebody who learns the invite code
// later, or watches the relay with it, still cannot compute the pair's mailbox tags.
func (inv Invite) pair(ss []byte, th [32]byte) []byte {
	ikm := append(append([]byte(nil), ss...), inv.Secret[:]...)
	k, err := hkdf.Key(sha3.New256, ikm, []byte(pairSalt), string(th[:]), 32)
	if err != nil {
		panic(err)
	}
	return k
}

// confirmation proves that the acceptor knows the pair secret, so the KEM ciphertext is its
// own encapsulation and not one copied from somebody else's answer.
func confirmation(pair []byte, th [32]byte) [confirmSize]byte {
	k, err := hkdf.Key(sha3.New256, pair, nil, confirmInfo, 32)
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write(th[:])
	return [confirmSize]byte(m.Sum(nil))
}

// SealInviterBlob is the inviter's blob: its bundle and the nickname it suggests (cut to 64
// bytes of UTF-8), signed for this invite and sealed under the invite secret. It goes to the
// relay under InviterTag. id must be the inviter the code names.
func (inv Invite) SealInviterBlob(id *Identity, nick string) ([]byte, error) {
	if !inv.checkInviter(id.Fingerprint()) {
		return nil, fmt.Errorf("failed to seal invite: %w: the code names another inviter", ErrInviteBlob)
	}
	nonce, err := randomNonce()
	if err != nil {
		return nil, fmt.Errorf("failed to seal invite: %w", err)
	}
	return inv.sealInviter(id, cleanNick(nick), nonce, nil), nil
}

// sealInviter builds the inviter blob with the given nonce and, when sigs is nil, fresh
// signatures (the test vectors pass theirs).
func (inv Invite) sealInviter(id *Identity, nick string, nonce, sigs []byte) []byte {
	if sigs == nil {
		sigs = id.sign([]byte(inviterSigLabel), inv.inviterSigned(id.bundle.fp, nick))
	}
	f := inviterFields{bundle: id.bundle.raw, nick: nick, sigs: sigs}
	return inv.sealBlob(roleInviter, nonce, f.marshal())
}

// OpenInviterBlob is the acceptor's side of SealInviterBlob: it checks that the bundle is the
// one the code names and that the bundle signed the blob for this invite. Errors wrap
// ErrMalformed or ErrTampered when the blob does not open under the code, and ErrInviteBlob
// when it opens but does not verify (somebody else who holds the code made or changed it).
func (inv Invite) OpenInviterBlob(b []byte) (*Bundle, string, error) {
	pt, err := inv.openBlob(roleInviter, b)
	if err != nil {
		return nil, "", fmt.Errorf("failed to open invite: %w", err)
	}
	f, err := parseInviterFields(pt)
	if err != nil {
		return nil, "", fmt.Errorf("failed to open invite: %w: %w", ErrInviteBlob, err)
	}
	bundle, err := ParseBundle(f.bundle)
	if err != nil {
		return nil, "", fmt.Errorf("failed to open invite: %w: %w", ErrInviteBlob, err)
	}
	if err := inv.checkInviterBlob(&f, bundle); err != nil {
		return nil, "", fmt.Errorf("failed to open invite: %w", err)
	}
	return bundle, f.nick, nil
}

// checkInviterBlob checks a parsed inviter blob whose bundle field parsed as bundle.
func (inv Invite) checkInviterBlob(f *inviterFields, bundle *Bundle) error {
	if !inv.checkInviter(bundle.fp) {
		return fmt.Errorf("%w: the bundle is not the inviter's the code names", ErrInviteBlob)
	}
	if !bundle.verify([]byte(inviterSigLabel), inv.inviterSigned(bundle.fp, f.nick), f.sigs) {
		return fmt.Errorf("%w: %w: signature does not verify", ErrInviteBlob, ErrTampered)
	}
	return nil
}

// SealAnswer answers an invite: the acceptor's bundle, a KEM encapsulation to the inviter and
// info, signed by both of the acceptor's keys over the transcript and confirmed with the pair
// secret, sealed under the invite secret for AcceptorTag. It returns the blob and the pair
// secret both sides will share. inviter must be the bundle OpenInviterBlob returned.
func (inv Invite) SealAnswer(me *Identity, inviter *Bundle, info AnswerInfo) (blob, pairSecret []byte, err error) {
	if !inv.checkInviter(inviter.fp) {
		return nil, nil, fmt.Errorf("failed to answer invite: %w: the bundle is not the inviter's the code names", ErrInviteBlob)
	}
	if len(info.Relay) > maxRelayLen || !utf8.ValidString(info.Relay) {
		return nil, nil, fmt.Errorf("failed to answer invite: relay address of %d bytes (at most %d of UTF-8)", len(info.Relay), maxRelayLen)
	}
	ct, ss, err := inviter.scheme.Encapsulate(inviter.kemPK)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to answer invite: %w", err)
	}
	nonce, err := randomNonce()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to answer invite: %w", err)
	}
	blob, pairSecret, _ = inv.sealAnswer(me, inviter, info, ct, ss, nonce, nil)
	return blob, pairSecret, nil
}

// sealAnswer builds the answer from an encapsulation (ct, ss), a nonce and, when sigs is nil,
// fresh signatures (the test vectors pass theirs). It also returns the transcript hash.
func (inv Invite) sealAnswer(me *Identity, inviter *Bundle, info AnswerInfo, ct, ss, nonce, sigs []byte) (blob, pair []byte, th [32]byte) {
	f := answerFields{inviter: inviter.fp, bundle: me.bundle.raw, ct: ct, nick: cleanNick(info.Nick), relay: info.Relay, relayFP: info.RelayFP}
	th = inv.transcript(f.body())
	if f.sigs = sigs; sigs == nil {
		f.sigs = me.sign([]byte(answerSigLabel), th[:])
	}
	pair = inv.pair(ss, th)
	f.confirm = confirmation(pair, th)
	return inv.sealBlob(roleAcceptor, nonce, f.marshal()), pair, th
}

// verifyAnswer is what any holder of the code can check of an answer: it opens, it answers the
// inviter the code names, and the acceptor's two signatures over the transcript verify.
func (inv Invite) verifyAnswer(b []byte) (answerFields, *Bundle, [32]byte, error) {
	pt, err := inv.openBlob(roleAcceptor, b)
	if err != nil {
		return answerFields{}, nil, [32]byte{}, err
	}
	f, err := parseAnswerFields(pt)
	if err != nil {
		return answerFields{}, nil, [32]byte{}, fmt.Errorf("%w: %w", ErrInviteAnswer, err)
	}
	acceptor, err := ParseBundle(f.bundle)
	if err != nil {
		return answerFields{}, nil, [32]byte{}, fmt.Errorf("%w: %w", ErrInviteAnswer, err)
	}
	th, err := inv.checkAnswer(&f, acceptor)
	if err != nil {
		return answerFields{}, nil, [32]byte{}, err
	}
	return f, acceptor, th, nil
}

// checkAnswer checks a parsed answer whose bundle field parsed as acceptor: it answers the
// inviter the code names and the acceptor's signatures verify. It returns the transcript hash.
func (inv Invite) checkAnswer(f *answerFields, acceptor *Bundle) ([32]byte, error) {
	if !inv.checkInviter(f.inviter) {
		return [32]byte{}, fmt.Errorf("%w: %w: it answers another inviter", ErrInviteAnswer, ErrMisaddressed)
	}
	th := inv.transcript(f.body())
	if !acceptor.verify([]byte(answerSigLabel), th[:], f.sigs) {
		return [32]byte{}, fmt.Errorf("%w: %w: the acceptor's signatures do not verify", ErrInviteAnswer, ErrTampered)
	}
	return th, nil
}

// PeekAnswer tells any holder of the code whether b is a valid answer to this invite, and
// whose: it checks the AEAD, the inviter binding and the acceptor's signatures, but needs no
// KEM key and so cannot check the key confirmation. An acceptor uses it to refuse a code that
// was already answered; an inviter to notice a second, different answer. Errors are those of
// OpenAnswer.
func (inv Invite) PeekAnswer(b []byte) (acceptor Fingerprint, err error) {
	_, bundle, _, err := inv.verifyAnswer(b)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("failed to check invite answer: %w", err)
	}
	return bundle.fp, nil
}

// OpenAnswer is the inviter's side of SealAnswer: PeekAnswer's checks, then that the answer is
// to me, decapsulation, the pair secret and the key confirmation. Errors wrap ErrMalformed or
// ErrTampered when the blob does not open under the code, and ErrInviteAnswer (with the
// cause, e.g. ErrTampered or ErrMisaddressed) when it opens but does not verify: somebody
// else who holds the code made or changed it.
func (inv Invite) OpenAnswer(me *Identity, b []byte) (*Answer, error) {
	f, acceptor, th, err := inv.verifyAnswer(b)
	if err != nil {
		return nil, fmt.Errorf("failed to open invite answer: %w", err)
	}
	a, err := inv.finishAnswer(me, &f, acceptor, th)
	if err != nil {
		return nil, fmt.Errorf("failed to open invite answer: %w", err)
	}
	return a, nil
}

// finishAnswer is the inviter's part of OpenAnswer after checkAnswer: the answer is to me, the
// KEM ciphertext decapsulates, and the key confirmation matches the pair secret.
func (inv Invite) finishAnswer(me *Identity, f *answerFields, acceptor *Bundle, th [32]byte) (*Answer, error) {
	if f.inviter != me.bundle.fp {
		return nil, fmt.Errorf("%w: %w: it answers another inviter", ErrInviteAnswer, ErrMisaddressed)
	}
	if len(f.ct) != me.scheme.CiphertextSize() {
		return nil, fmt.Errorf("%w: %w: KEM ciphertext of %d bytes", ErrInviteAnswer, ErrMalformed, len(f.ct))
	}
	ss, err := me.scheme.Decapsulate(me.kemSK, f.ct)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %v", ErrInviteAnswer, ErrMalformed, err)
	}
	pair := inv.pair(ss, th)
	if want := confirmation(pair, th); !hmac.Equal(want[:], f.confirm[:]) {
		return nil, fmt.Errorf("%w: key confirmation fails (the KEM ciphertext is not the acceptor's)", ErrInviteAnswer)
	}
	return &Answer{Acceptor: acceptor, Nick: f.nick, Relay: f.relay, RelayFP: f.relayFP, Pair: pair}, nil
}
