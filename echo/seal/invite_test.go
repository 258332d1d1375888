package seal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/echorelay/echorelay/internal/qr"
)

const b32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

var testRelayFP = [32]byte{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 0xbb}

// rawCode is a code of arbitrary bytes with a correct checksum.
func rawCode(b []byte) string {
	sum := sha256.Sum256(b)
	return b32.EncodeToString(append(append([]byte(nil), b...), sum[:4]...))
}

// codeHolderOpen and codeHolderReseal play Eve, who holds the code (a photo of the QR) and
// so every key derived from the secret, but none of the inviter's or acceptor's keys.
func codeHolderOpen(t testing.TB, inv Invite, role byte, b []byte) []byte {
	t.Helper()
	pt, err := inv.openBlob(role, b)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func codeHolderReseal(t testing.TB, inv Invite, role byte, pt []byte) []byte {
	t.Helper()
	nonce, err := randomNonce()
	if err != nil {
		t.Fatal(err)
	}
	return inv.sealBlob(role, nonce, pt)
}

// exchange runs an invite from a to b up to the answer.
func exchange(t *testing.T, a, b *Identity) (inv Invite, blobI, blobA, pairB []byte, ib *Bundle) {
	t.Helper()
	inv, err := NewInviteFor(a, "tls://relay.example.org:7788", testRelayFP)
	if err != nil {
		t.Fatal(err)
	}
	if blobI, err = inv.SealInviterBlob(a, "alice"); err != nil {
		t.Fatal(err)
	}
	back, err := ParseInviteCode(inv.Code())
	if err != nil || back != inv {
		t.Fatalf("code round trip: %v", err)
	}
	if ib, _, err = back.OpenInviterBlob(blobI); err != nil {
		t.Fatal(err)
	}
	if blobA, pairB, err = back.SealAnswer(b, ib, AnswerInfo{Nick: "bob", Relay: "quic://bob.example.net:7789", RelayFP: [32]byte{7}}); err != nil {
		t.Fatal(err)
	}
	return inv, blobI, blobA, pairB, ib
}

func TestInviteCode(t *testing.T) {
	a, _, _ := ids(t)
	bound, err := NewInviteFor(a, "tls://relay.example.org:7788", testRelayFP)
	if err != nil {
		t.Fatal(err)
	}
	if !bound.Bound() || bound.RelayFP != testRelayFP || !bound.checkInviter(a.Fingerprint()) {
		t.Fatal("NewInviteFor did not bind the inviter or keep the relay fingerprint")
	}
	noFP, _ := NewInviteFor(a, "127.0.0.1:7788", [32]byte{})
	unbound, _ := newInvite("127.0.0.1:7788")
	for _, inv := range []Invite{bound, noFP, unbound} {
		code := inv.Code()
		back, err := ParseInviteCode(" " + strings.ToLower(code[:10]) + "-" + code[10:] + "\n")
		if err != nil || back != inv {
			t.Fatalf("code round trip: %v", err)
		}
		for i := range code {
			typo := []byte(code)
			typo[i] = map[bool]byte{true: 'B', false: 'A'}[typo[i] == 'A']
			if _, err := ParseInviteCode(string(typo)); !errors.Is(err, ErrInviteCode) {
				t.Fatalf("typo at %d accepted", i)
			}
		}
		// The last character's unused low bit: base32 decoders ignore it, the parser does not.
		if n := len(code) * 5 / 8; 8*n%5 == 0 {
			t.Fatal("pick a relay address whose code has unused bits")
		}
		last := strings.IndexByte(b32Alphabet, code[len(code)-1])
		if _, err := ParseInviteCode(code[:len(code)-1] + string(b32Alphabet[last^1])); !errors.Is(err, ErrInviteCode) {
			t.Fatalf("code with an unused bit set accepted: %v", err)
		}
		for _, n := range []int{0, 1, 8, len(code) - 7, len(code) - 2} {
			if _, err := ParseInviteCode(code[:n]); !errors.Is(err, ErrInviteCode) {
				t.Fatalf("code truncated to %d accepted", n)
			}
		}
	}
	// Absent fields take no room: 2 + 16 [+ 16] [+ 32] + 1 + relay + 4 bytes.
	for _, c := range []struct {
		inv Invite
		n   int
	}{{bound, 71}, {noFP, 39}, {unbound, 23}} {
		if want := (8*(c.n+len(c.inv.Relay)) + 4) / 5; len(c.inv.Code()) != want {
			t.Fatalf("code of %+v is %d characters, want %d", c.inv, len(c.inv.Code()), want)
		}
	}
	if _, err := NewInviteFor(a, strings.Repeat("x", maxRelayLen+1), [32]byte{}); err == nil {
		t.Fatal("over-long relay address accepted")
	}
	if _, err := NewInviteFor(nil, "127.0.0.1:1", [32]byte{}); err == nil {
		t.Fatal("invite without an inviter")
	}

	// A version 1 code (what echorelay made before) gets its own error; so does a newer one.
	v1 := append([]byte{1}, bytes.Repeat([]byte{9}, InviteSecretSize)...)
	v1 = append(append(v1, 14), "127.0.0.1:7788"...)
	if _, err := ParseInviteCode(rawCode(v1)); !errors.Is(err, ErrInviteVersion) || !errors.Is(err, ErrInviteCode) ||
		!strings.Contains(err.Error(), "older echorelay; ask for a new one") {
		t.Fatalf("version 1 code: %v", err)
	}
	// The literal version 1 code of the fuzz corpus, as the old code printed it.
	if _, err := ParseInviteCode("AEBC6UE72XRZQ36G2TSY7KU3P67A4MJSG4XDALRQFYYTUNZZGAYWBUNPGI"); !errors.Is(err, ErrInviteVersion) {
		t.Fatalf("printed version 1 code: %v", err)
	}
	body := []byte(bound.Code())
	raw, _ := b32.DecodeString(string(body))
	raw = raw[:len(raw)-4]
	for name, mut := range map[string]func([]byte){
		"version 3":            func(b []byte) { b[0] = 3 },
		"unknown flag":         func(b []byte) { b[1] |= 4 },
		"zero inviter hash":    func(b []byte) { clear(b[2+16 : 2+32]) },
		"zero relay fp":        func(b []byte) { clear(b[2+32 : 2+64]) },
		"relay length too big": func(b []byte) { b[2+64]++ },
		"relay length zero":    func(b []byte) { b[2+64] = 0 },
		"flags without fp":     func(b []byte) { b[1] &^= codeFlagRelayFP },
	} {
		q := bytes.Clone(raw)
		mut(q)
		if _, err := ParseInviteCode(rawCode(q)); !errors.Is(err, ErrInviteCode) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseInviteCode(rawCode(append(bytes.Clone(raw), 'x'))); !errors.Is(err, ErrInviteCode) {
		t.Error("trailing byte accepted")
	}
}

// The code is shown as a QR code of level M (internal/qr): a bound code with a relay
// fingerprint and a relay address of up to 62 bytes fits in version 10 (57×57 modules), which
// a phone's camera reads off a terminal.
func TestInviteCodeFitsQR(t *testing.T) {
	a, _, _ := ids(t)
	for _, relay := range []string{"tls://relay.example.org:7788", "quic://" + strings.Repeat("r", 62-len("quic://:7788")) + ":7788"} {
		inv, err := NewInviteFor(a, relay, testRelayFP)
		if err != nil {
			t.Fatal(err)
		}
		q, err := qr.Encode([]byte(inv.Code()))
		if err != nil || q.Version > 10 {
			t.Fatalf("relay of %d bytes: %d characters: %v", len(relay), len(inv.Code()), err)
		}
		t.Logf("relay of %d bytes: %d characters, QR version %d", len(relay), len(inv.Code()), q.Version)
	}
}

func TestInviteRoundTrip(t *testing.T) {
	a, b, c := ids(t)
	inv, blobI, blobA, pairB, ib := exchange(t, a, b)
	if ib.Fingerprint() != a.Fingerprint() {
		t.Fatal("inviter bundle is not alice's")
	}
	if _, nick, _ := inv.OpenInviterBlob(blobI); nick != "alice" {
		t.Fatalf("inviter nick %q", nick)
	}
	ans, err := inv.OpenAnswer(a, blobA)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Acceptor.Fingerprint() != b.Fingerprint() || ans.Nick != "bob" || ans.Relay != "quic://bob.example.net:7789" ||
		ans.RelayFP != [32]byte{7} || !bytes.Equal(ans.Pair, pairB) || len(ans.Pair) != 32 {
		t.Fatalf("answer differs: %+v (pairs equal %v)", ans, bytes.Equal(ans.Pair, pairB))
	}
	if fp, err := inv.PeekAnswer(blobA); err != nil || fp != b.Fingerprint() {
		t.Fatalf("PeekAnswer: %s, %v", fp, err)
	}
	// Carl, who holds the code but is not alice, cannot take the answer.
	if _, err := inv.OpenAnswer(c, blobA); !errors.Is(err, ErrInviteAnswer) || !errors.Is(err, ErrMisaddressed) {
		t.Fatalf("carl opened alice's answer: %v", err)
	}
	// Under another code nothing opens; the blobs do not pass for each other.
	other, _ := NewInviteFor(a, inv.Relay, [32]byte{})
	if _, _, err := other.OpenInviterBlob(blobI); !errors.Is(err, ErrTampered) || errors.Is(err, ErrInviteBlob) {
		t.Fatalf("inviter blob under another code: %v", err)
	}
	if _, err := other.PeekAnswer(blobA); !errors.Is(err, ErrTampered) || errors.Is(err, ErrInviteAnswer) {
		t.Fatalf("answer under another code: %v", err)
	}
	if _, err := inv.OpenAnswer(a, blobI); !errors.Is(err, ErrMalformed) {
		t.Fatalf("inviter blob accepted as an answer: %v", err)
	}
	if inv.InviterTag() == inv.AcceptorTag() || inv.InviterTag() == other.InviterTag() {
		t.Fatal("invite tags collide")
	}
	// The code names alice: bob cannot put his bundle under it, nor answer a bundle it does not name.
	if _, err := inv.SealInviterBlob(b, "bob"); !errors.Is(err, ErrInviteBlob) {
		t.Fatalf("inviter blob by somebody the code does not name: %v", err)
	}
	if _, _, err := inv.SealAnswer(b, c.Bundle(), AnswerInfo{}); !errors.Is(err, ErrInviteBlob) {
		t.Fatalf("answer to a bundle the code does not name: %v", err)
	}
	if _, _, err := inv.SealAnswer(b, ib, AnswerInfo{Relay: strings.Repeat("x", maxRelayLen+1)}); err == nil {
		t.Fatal("over-long answer relay accepted")
	}
	// Nicknames are cut to 64 bytes at a character boundary and made valid UTF-8.
	blob, err := inv.SealInviterBlob(a, strings.Repeat("é", 40)+"\xff")
	if err != nil {
		t.Fatal(err)
	}
	if _, nick, err := inv.OpenInviterBlob(blob); err != nil || nick != strings.Repeat("é", 32) {
		t.Fatalf("long nick: %q, %v", nick, err)
	}
}

// The attack of issue #16 item 6. Eve holds the code. She opens Bob's answer, puts her own
// encapsulation to Alice in it and re-seals it. Under the version 1 layout Alice accepted it
// as Bob's, with a pair secret Eve knew and Bob did not: the safety numbers matched, nothing
// Alice sent ever reached Bob, and Eve could follow the pair's mailbox tags.
func TestInviteSwapKEMCiphertext(t *testing.T) {
	a, b, _ := ids(t)
	inv, _, blobA, _, ib := exchange(t, a, b)
	f, err := parseAnswerFields(codeHolderOpen(t, inv, roleAcceptor, blobA))
	if err != nil {
		t.Fatal(err)
	}
	ct, ss, err := ib.scheme.Encapsulate(ib.kemPK)
	if err != nil {
		t.Fatal(err)
	}
	f.ct = ct
	swapped := codeHolderReseal(t, inv, roleAcceptor, f.marshal())
	if ans, err := inv.OpenAnswer(a, swapped); !errors.Is(err, ErrInviteAnswer) || ans != nil {
		t.Fatalf("swapped KEM ciphertext accepted: %v", err)
	}
	if _, err := inv.PeekAnswer(swapped); !errors.Is(err, ErrInviteAnswer) {
		t.Fatalf("PeekAnswer accepted the swapped answer: %v", err)
	}
	// Eve also recomputes the key confirmation with the pair secret she now knows: the
	// signatures still refuse it.
	th := inv.transcript(f.body())
	f.confirm = confirmation(inv.pair(ss, th), th)
	if _, err := inv.OpenAnswer(a, codeHolderReseal(t, inv, roleAcceptor, f.marshal())); !errors.Is(err, ErrInviteAnswer) || !errors.Is(err, ErrTampered) {
		t.Fatalf("swapped KEM ciphertext with a matching confirmation accepted: %v", err)
	}
}

// Eve copies Bob's KEM ciphertext into an answer she signs as herself: she does not know the
// pair secret, so the key confirmation she writes fails.
func TestInviteCopiedCiphertext(t *testing.T) {
	a, b, c := ids(t)
	inv, _, blobA, _, ib := exchange(t, a, b)
	bf, _ := parseAnswerFields(codeHolderOpen(t, inv, roleAcceptor, blobA))
	f := answerFields{inviter: ib.fp, bundle: c.bundle.raw, ct: bf.ct, nick: "bob"}
	th := inv.transcript(f.body())
	f.sigs = c.sign([]byte(answerSigLabel), th[:])
	f.confirm = confirmation(bf.confirm[:], th) // any guess
	forged := codeHolderReseal(t, inv, roleAcceptor, f.marshal())
	if fp, err := inv.PeekAnswer(forged); err != nil || fp != c.Fingerprint() {
		t.Fatalf("PeekAnswer: %v", err) // well formed and signed: only the KEM key can tell
	}
	if _, err := inv.OpenAnswer(a, forged); !errors.Is(err, ErrInviteAnswer) || !strings.Contains(err.Error(), "key confirmation") {
		t.Fatalf("copied ciphertext accepted: %v", err)
	}
}

// Eve, with the code, puts her own bundle (properly signed by herself) under the inviter's tag.
// The code names Alice, so Bob's client refuses it; an unbound code (the deprecated NewInvite)
// cannot tell.
func TestInviteSwapInviterBundle(t *testing.T) {
	a, b, c := ids(t)
	inv, blobI, _, _, _ := exchange(t, a, b)
	nonce, _ := randomNonce()
	evil := inv.sealInviter(c, "alice", nonce, nil)
	if _, _, err := inv.OpenInviterBlob(evil); !errors.Is(err, ErrInviteBlob) {
		t.Fatalf("swapped inviter bundle accepted: %v", err)
	}
	unbound := inv
	unbound.InviterHash = [InviterHashSize]byte{}
	if got, _, err := unbound.OpenInviterBlob(unbound.sealInviter(c, "alice", nonce, nil)); err != nil || got.Fingerprint() != c.Fingerprint() {
		t.Fatalf("unbound code: %v", err)
	}
	// Eve keeps Alice's bundle but changes the nickname: the inviter's signature refuses it.
	f, err := parseInviterFields(codeHolderOpen(t, inv, roleInviter, blobI))
	if err != nil {
		t.Fatal(err)
	}
	f.nick = "alice (new number)"
	if _, _, err := inv.OpenInviterBlob(codeHolderReseal(t, inv, roleInviter, f.marshal())); !errors.Is(err, ErrInviteBlob) || !errors.Is(err, ErrTampered) {
		t.Fatalf("changed inviter nick accepted: %v", err)
	}
	// An inviter blob of another invite by Alice, re-sealed under this code, does not verify
	// either: the signature covers a value derived from the secret.
	inv2, _ := NewInviteFor(a, inv.Relay, [32]byte{})
	blob2, _ := inv2.SealInviterBlob(a, "alice")
	pt2 := codeHolderOpen(t, inv2, roleInviter, blob2)
	if _, _, err := inv.OpenInviterBlob(codeHolderReseal(t, inv, roleInviter, pt2)); !errors.Is(err, ErrInviteBlob) {
		t.Fatalf("inviter blob of another invite accepted: %v", err)
	}
}

// Every field of the answer is covered: a code holder who changes any of them and re-seals is
// refused with ErrInviteAnswer; only the outer layer's damage is ErrTampered alone.
func TestInviteAnswerTamper(t *testing.T) {
	a, b, _ := ids(t)
	inv, _, blobA, _, _ := exchange(t, a, b)
	pt := codeHolderOpen(t, inv, roleAcceptor, blobA)
	f, _ := parseAnswerFields(pt)
	if !bytes.Equal(f.marshal(), pt) {
		t.Fatal("answer fields do not round-trip")
	}
	if _, err := inv.OpenAnswer(a, codeHolderReseal(t, inv, roleAcceptor, pt)); err != nil {
		t.Fatalf("untouched reseal: %v", err)
	}
	off := func(field []byte) int { return bytes.Index(pt, field) }
	nb := len(f.bundle)
	cases := []struct {
		name  string
		pos   int
		peeks bool // PeekAnswer cannot see it
	}{
		{"inviter fingerprint", 3, false},
		{"bundle length", 32 + 3, false},
		{"bundle kem key", 32 + 4 + 100, false},
		{"bundle self-signature", 32 + 4 + nb - 5, false},
		{"kem ciphertext", off(f.ct) + 10, false},
		{"nick", off([]byte("bob")), false},
		{"relay", off([]byte("quic://bob")), false},
		{"relay fp", len(pt) - confirmSize - sigsSize - 32, false},
		{"ed25519 signature", len(pt) - confirmSize - sigsSize + 5, false},
		{"ml-dsa signature", len(pt) - confirmSize - 100, false},
		{"confirmation", len(pt) - 3, true},
	}
	for _, tc := range cases {
		q := bytes.Clone(pt)
		q[tc.pos] ^= 0x01
		blob := codeHolderReseal(t, inv, roleAcceptor, q)
		if ans, err := inv.OpenAnswer(a, blob); !errors.Is(err, ErrInviteAnswer) || ans != nil {
			t.Errorf("%s changed: OpenAnswer got %v", tc.name, err)
		}
		if _, err := inv.PeekAnswer(blob); (err == nil) != tc.peeks || (err != nil && !errors.Is(err, ErrInviteAnswer)) {
			t.Errorf("%s changed: PeekAnswer got %v", tc.name, err)
		}
	}
	for _, n := range []int{0, 31, 40, len(pt) - 1} {
		if _, err := inv.OpenAnswer(a, codeHolderReseal(t, inv, roleAcceptor, pt[:n])); !errors.Is(err, ErrInviteAnswer) || !errors.Is(err, ErrMalformed) {
			t.Errorf("answer cut to %d bytes: %v", n, err)
		}
	}
	for _, pos := range []int{0, 1, 2, 20, len(blobA) / 2, len(blobA) - 1} {
		q := bytes.Clone(blobA)
		q[pos] ^= 0x80
		if _, err := inv.OpenAnswer(a, q); err == nil || errors.Is(err, ErrInviteAnswer) {
			t.Errorf("outer byte %d flipped: %v", pos, err)
		}
	}
}

// An answer to one of Alice's invites, re-sealed by somebody who holds both codes under the
// other, does not verify: the transcript holds a value derived from the secret.
func TestInviteAnswerReplay(t *testing.T) {
	a, b, _ := ids(t)
	inv1, _, blobA, _, _ := exchange(t, a, b)
	inv2, _ := NewInviteFor(a, inv1.Relay, [32]byte{})
	moved := codeHolderReseal(t, inv2, roleAcceptor, codeHolderOpen(t, inv1, roleAcceptor, blobA))
	if _, err := inv2.PeekAnswer(moved); !errors.Is(err, ErrInviteAnswer) {
		t.Fatalf("answer replayed to another invite: %v", err)
	}
}

// A used code: Carl (or Eve) answers after Bob. PeekAnswer tells Carl, before he answers, that
// Bob already did, and tells Alice that the second answer is somebody else's.
func TestInviteSecondAnswer(t *testing.T) {
	a, b, c := ids(t)
	inv, blobI, blobA, _, _ := exchange(t, a, b)
	// Carl's client, holding the code, looks under AcceptorTag before answering.
	first, err := inv.PeekAnswer(blobA)
	if err != nil || first != b.Fingerprint() || first == c.Fingerprint() {
		t.Fatalf("carl does not see bob's answer: %v", err)
	}
	// Carl answers anyway; Alice's client takes the first and recognises the second.
	ib, _, err := inv.OpenInviterBlob(blobI)
	if err != nil {
		t.Fatal(err)
	}
	blobC, _, err := inv.SealAnswer(c, ib, AnswerInfo{Nick: "carl"})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := inv.OpenAnswer(a, blobA)
	if err != nil {
		t.Fatal(err)
	}
	second, err := inv.PeekAnswer(blobC)
	if err != nil || second == ans.Acceptor.Fingerprint() || second != c.Fingerprint() {
		t.Fatalf("second answer not recognised as another acceptor's: %s, %v", second, err)
	}
	// The same acceptor answering twice is the same fingerprint (a retry, not somebody else).
	blobB2, _, _ := inv.SealAnswer(b, ib, AnswerInfo{Nick: "bob"})
	if again, err := inv.PeekAnswer(blobB2); err != nil || again != first {
		t.Fatalf("bob's second answer: %s, %v", again, err)
	}
}

func TestHistoryKey(t *testing.T) {
	a, b, _ := ids(t)
	k := a.HistoryKey()
	if k == [32]byte{} || k == b.HistoryKey() || k != a.HistoryKey() {
		t.Fatal("history key is zero, shared or not deterministic")
	}
	f, err := a.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseIdentity(f, nil)
	if err != nil || back.HistoryKey() != k {
		t.Fatalf("history key after a reload differs: %v", err)
	}
	pf, _ := a.marshal([]byte("pw"), argonParams{time: 1, memoryKiB: 64, threads: 1})
	if back, err := ParseIdentity(pf, []byte("pw")); err != nil || back.HistoryKey() != k {
		t.Fatalf("history key of the protected file differs: %v", err)
	}
	if bytes.Contains(f, k[:]) {
		t.Fatal("the history key is stored in the file")
	}
	// It is no other key the identity uses.
	if bytes.Equal(k[:], a.edSeed[:]) || bytes.Equal(k[:], a.dsaSeed[:]) || bytes.Contains(a.kemSKB, k[:8]) {
		t.Fatal("history key equals a signing seed or part of the KEM key")
	}
}
