package seal

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// Invite is the secret a person hands to a friend (as a code or a QR) so that the two can swap
// bundles through a relay without accounts (PROTOCOL.md section 7.2).
//
// Code bytes: version u8 (1) || secret [16] || relay_len u8 || relay || check [4], with check
// the first 4 bytes of SHA-256 of what precedes it; the text is their unpadded base32 (RFC 4648,
// upper case). Parsing ignores spaces and dashes and is case-insensitive.
type Invite struct {
	Secret [InviteSecretSize]byte
	Relay  string // where the inviter put its bundle, [scheme://]host:port
}

// InviteSecretSize is 16 bytes: 128 random bits.
const InviteSecretSize = 16

const (
	inviteCodeVersion = 1
	inviteBlobVersion = 1
	roleInviter       = 1
	roleAcceptor      = 2
	maxRelayLen       = 200
	maxNickLen        = 64
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewInvite draws a fresh secret for an invite through relay.
func NewInvite(relay string) (Invite, error) {
	inv := Invite{Relay: relay}
	if len(relay) == 0 || len(relay) > maxRelayLen {
		return inv, fmt.Errorf("failed to create invite: relay address of %d bytes", len(relay))
	}
	if _, err := rand.Read(inv.Secret[:]); err != nil {
		return inv, fmt.Errorf("failed to create invite: %w", err)
	}
	return inv, nil
}

// Code is the invite as text.
func (inv Invite) Code() string {
	b := []byte{inviteCodeVersion}
	b = append(b, inv.Secret[:]...)
	b = append(b, byte(len(inv.Relay)))
	b = append(b, inv.Relay...)
	sum := sha256.Sum256(b)
	return b32.EncodeToString(append(b, sum[:4]...))
}

// ParseInviteCode decodes a code typed, pasted or scanned by a person.
func ParseInviteCode(s string) (Invite, error) {
	var inv Invite
	s = strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s))
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 1+InviteSecretSize+1+1+4 {
		return inv, fmt.Errorf("%w: not base32 or too short", ErrInviteCode)
	}
	body, check := b[:len(b)-4], b[len(b)-4:]
	if sum := sha256.Sum256(body); string(sum[:4]) != string(check) {
		return inv, fmt.Errorf("%w: checksum mismatch (a typo?)", ErrInviteCode)
	}
	if body[0] != inviteCodeVersion {
		return inv, fmt.Errorf("%w: version %d", ErrInviteCode, body[0])
	}
	copy(inv.Secret[:], body[1:])
	n := int(body[1+InviteSecretSize])
	if len(body) != 2+InviteSecretSize+n || n == 0 {
		return inv, fmt.Errorf("%w: inconsistent relay address", ErrInviteCode)
	}
	inv.Relay = string(body[2+InviteSecretSize:])
	return inv, nil
}

// derive returns HKDF-SHA3-256(secret, info = "echorelay-invite-v1/" || purpose).
func (inv Invite) derive(purpose string) []byte {
	k, err := hkdf.Key(sha3.New256, inv.Secret[:], nil, "echorelay-invite-v1/"+purpose, 32)
	if err != nil {
		panic(err)
	}
	return k
}

// InviterTag and AcceptorTag are the mailbox tags of the two invite blobs.
func (inv Invite) InviterTag() [32]byte  { return [32]byte(inv.derive("tag-inviter")) }
func (inv Invite) AcceptorTag() [32]byte { return [32]byte(inv.derive("tag-acceptor")) }

func (inv Invite) sealBlob(role byte, pt []byte) ([]byte, error) {
	purpose := "bundle-inviter"
	if role == roleAcceptor {
		purpose = "bundle-acceptor"
	}
	aead, err := chacha20poly1305.NewX(inv.derive(purpose))
	if err != nil {
		return nil, err
	}
	out := []byte{inviteBlobVersion, role}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(append(out, nonce...), nonce, pt, out[:2]), nil
}

func (inv Invite) openBlob(role byte, b []byte) ([]byte, error) {
	if len(b) < 2+aeadOverhead || b[0] != inviteBlobVersion || b[1] != role {
		return nil, fmt.Errorf("%w: not an invite blob of this role", ErrMalformed)
	}
	purpose := "bundle-inviter"
	if role == roleAcceptor {
		purpose = "bundle-acceptor"
	}
	aead, err := chacha20poly1305.NewX(inv.derive(purpose))
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, b[2:2+chacha20poly1305.NonceSizeX], b[2+chacha20poly1305.NonceSizeX:], b[:2])
	if err != nil {
		return nil, fmt.Errorf("%w: invite blob does not authenticate under this code", ErrTampered)
	}
	return pt, nil
}

// fields: bundle_len u32 || bundle || [kem_ct_len u32 || kem_ct] || nick_len u8 || nick
func appendInviteFields(b, bundle, ct []byte, nick string, withCT bool) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(bundle)))
	b = append(b, bundle...)
	if withCT {
		b = binary.BigEndian.AppendUint32(b, uint32(len(ct)))
		b = append(b, ct...)
	}
	b = append(b, byte(len(nick)))
	return append(b, nick...)
}

func parseInviteFields(b []byte, withCT bool) (bundle *Bundle, ct []byte, nick string, err error) {
	bad := fmt.Errorf("%w: invite blob fields", ErrMalformed)
	take := func() ([]byte, bool) {
		if len(b) < 4 {
			return nil, false
		}
		n := uint64(binary.BigEndian.Uint32(b))
		if uint64(len(b)) < 4+n {
			return nil, false
		}
		v := b[4 : 4+n]
		b = b[4+n:]
		return v, true
	}
	raw, ok := take()
	if !ok {
		return nil, nil, "", bad
	}
	if withCT {
		if ct, ok = take(); !ok {
			return nil, nil, "", bad
		}
	}
	if len(b) < 1 || len(b) != 1+int(b[0]) {
		return nil, nil, "", bad
	}
	nick = string(b[1:])
	if bundle, err = ParseBundle(raw); err != nil {
		return nil, nil, "", err
	}
	return bundle, ct, nick, nil
}

func clipNick(nick string) string {
	if len(nick) > maxNickLen {
		nick = nick[:maxNickLen]
	}
	return nick
}

// SealInviterBlob is the inviter's blob: its bundle and the nickname it suggests, sealed under
// the invite secret. It goes to the relay under InviterTag.
func (inv Invite) SealInviterBlob(id *Identity, nick string) ([]byte, error) {
	return inv.sealBlob(roleInviter, appendInviteFields(nil, id.bundle.raw, nil, clipNick(nick), false))
}

// OpenInviterBlob is the acceptor's side of SealInviterBlob.
func (inv Invite) OpenInviterBlob(b []byte) (*Bundle, string, error) {
	pt, err := inv.openBlob(roleInviter, b)
	if err != nil {
		return nil, "", fmt.Errorf("failed to open invite: %w", err)
	}
	bundle, _, nick, err := parseInviteFields(pt, false)
	if err != nil {
		return nil, "", fmt.Errorf("failed to open invite: %w", err)
	}
	return bundle, nick, nil
}

// SealAcceptorBlob answers an invite: the acceptor's bundle, a KEM encapsulation to the
// inviter and a nickname, sealed under the invite secret, for AcceptorTag. It returns the pair
// secret both sides will share.
func (inv Invite) SealAcceptorBlob(me *Identity, inviter *Bundle, nick string) (blob, pairSecret []byte, err error) {
	ct, ss, err := inviter.scheme.Encapsulate(inviter.kemPK)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to answer invite: %w", err)
	}
	blob, err = inv.sealBlob(roleAcceptor, appendInviteFields(nil, me.bundle.raw, ct, clipNick(nick), true))
	if err != nil {
		return nil, nil, err
	}
	return blob, inv.pairSecret(ss, inviter.fp, me.bundle.fp), nil
}

// OpenAcceptorBlob is the inviter's side of SealAcceptorBlob.
func (inv Invite) OpenAcceptorBlob(me *Identity, b []byte) (acceptor *Bundle, nick string, pairSecret []byte, err error) {
	pt, err := inv.openBlob(roleAcceptor, b)
	if err != nil {
		return nil, "", nil, fmt.Errorf("failed to open invite answer: %w", err)
	}
	acceptor, ct, nick, err := parseInviteFields(pt, true)
	if err != nil {
		return nil, "", nil, fmt.Errorf("failed to open invite answer: %w", err)
	}
	if len(ct) != me.scheme.CiphertextSize() {
		return nil, "", nil, fmt.Errorf("failed to open invite answer: %w: KEM ciphertext of %d bytes", ErrMalformed, len(ct))
	}
	ss, err := me.scheme.Decapsulate(me.kemSK, ct)
	if err != nil {
		return nil, "", nil, fmt.Errorf("failed to open invite answer: %w", err)
	}
	return acceptor, nick, inv.pairSecret(ss, me.bundle.fp, acceptor.fp), nil
}

// pairSecret = HKDF-SHA3-256(ikm = kem_ss || invite_secret, salt = "echorelay-pair-v1",
// info = inviter_fp || acceptor_fp). The KEM share means that somebody who learns the invite
// code later, or watches the relay with it, still cannot compute the pair's mailbox tags.
func (inv Invite) pairSecret(ss []byte, inviter, acceptor Fingerprint) []byte {
	ikm := append(append([]byte(nil), ss...), inv.Secret[:]...)
	k, err := hkdf.Key(sha3.New256, ikm, []byte("echorelay-pair-v1"), string(inviter[:])+string(acceptor[:]), 32)
	if err != nil {
		panic(err)
	}
	return k
}
