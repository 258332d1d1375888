package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/circl/kem"
	"github.com/echorelay/echorelay/mceliece/hybrid"
	"golang.org/x/crypto/chacha20poly1305"
)

// testScheme is the default hybrid, or under -short (the emulated ARM runs) and -race the
// smallest McEliece set, whose key generation is about ten times faster. Both go through the
// same code, and the end-to-end test in cmd/echorelay uses the default.
func testScheme() kem.Scheme {
	if testing.Short() || raceEnabled {
		return hybrid.New("mceliece348864f")
	}
	return hybrid.Default()
}

var (
	idsOnce          sync.Once
	alice, bob, carl *Identity
)

func ids(t testing.TB) (a, b, c *Identity) {
	idsOnce.Do(func() {
		var err error
		for _, p := range []**Identity{&alice, &bob, &carl} {
			if *p, err = GenerateIdentity(testScheme()); err != nil {
				panic(err)
			}
		}
	})
	return alice, bob, carl
}

func knownOf(bs ...*Bundle) func(Fingerprint) *Bundle {
	return func(f Fingerprint) *Bundle {
		for _, b := range bs {
			if b.Fingerprint() == f {
				return b
			}
		}
		return nil
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	a, b, _ := ids(t)
	now := time.UnixMilli(1_790_000_000_123)
	maxC := MaxContent(b.Bundle().KEMID(), 2<<20-100)
	for _, n := range []int{0, 1, 600, 5000, 100 << 10, maxC} {
		content := make([]byte, n)
		rand.Read(content)
		p, mid, err := Seal(a, b.Bundle(), TypeText, content, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != PayloadSize(b.Bundle().KEMID(), n) {
			t.Fatalf("n=%d: payload %d bytes, PayloadSize says %d", n, len(p), PayloadSize(b.Bundle().KEMID(), n))
		}
		m, err := Open(b, p, knownOf(a.Bundle()))
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if m.Sender.Fingerprint() != a.Fingerprint() || m.Recipient != b.Fingerprint() || !m.Time.Equal(now) ||
			m.ID != mid || m.Type != TypeText || !bytes.Equal(m.Content, content) {
			t.Fatalf("n=%d: opened message differs: %+v", n, m)
		}
	}
	if PayloadSize(b.Bundle().KEMID(), maxC+1) <= 2<<20-100 {
		t.Fatal("MaxContent is not the largest")
	}
}

// The default hybrid end to end, also when the shared identities use a smaller set: a sender
// of any set seals to a recipient of the default one.
func TestDefaultScheme(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("McEliece 6688128f key generation is slow under emulation and -race; the end-to-end test covers it")
	}
	a, _, _ := ids(t)
	d := a
	if testScheme() != hybrid.Default() {
		var err error
		if d, err = GenerateIdentity(hybrid.Default()); err != nil {
			t.Fatal(err)
		}
	}
	if d.Bundle().KEMID() != hybrid.DefaultID || len(d.Bundle().Bytes()) != 1_051_575 {
		t.Fatalf("default bundle: kem %#04x, %d bytes", d.Bundle().KEMID(), len(d.Bundle().Bytes()))
	}
	p, _, err := Seal(a, d.Bundle(), TypeText, []byte("to the default set"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 5467 {
		t.Fatalf("a short text to the default set is %d bytes, PROTOCOL.md says 5467", len(p))
	}
	m, err := Open(d, p, knownOf(a.Bundle()))
	if err != nil || string(m.Content) != "to the default set" {
		t.Fatalf("open: %v", err)
	}
}

func TestOpenWrongRecipient(t *testing.T) {
	a, b, c := ids(t)
	p, _, err := Seal(a, b.Bundle(), TypeText, []byte("for bob"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Open(c, p, knownOf(a.Bundle())); !errors.Is(err, ErrNotForMe) || m != nil {
		t.Fatalf("carl opened bob's message: %v", err)
	}
	if _, err := Open(b, p, knownOf(c.Bundle())); !errors.Is(err, ErrUnknownSender) {
		t.Fatalf("unknown sender: %v", err)
	}
}

// Flipping any bit of the outer payload is refused.
func TestOpenOuterBitFlips(t *testing.T) {
	a, b, _ := ids(t)
	p, _, err := Seal(a, b.Bundle(), TypeText, []byte("hello"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nct := b.scheme.CiphertextSize()
	positions := []int{0, 1, 2, 3, 3 + nct/2, 3 + nct - 1, 3 + nct, 3 + nct + 23, 3 + nct + 24, len(p) / 2, len(p) - 17, len(p) - 1}
	for i := 0; i < 20; i++ {
		var r [4]byte
		rand.Read(r[:])
		positions = append(positions, int(binary.BigEndian.Uint32(r[:])%uint32(len(p))))
	}
	for _, pos := range positions {
		q := bytes.Clone(p)
		q[pos] ^= 1 << (pos % 8)
		if m, err := Open(b, q, knownOf(a.Bundle())); err == nil || m != nil {
			t.Fatalf("bit flip at %d accepted", pos)
		} else if !errors.Is(err, ErrNotForMe) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAlgorithm) {
			t.Fatalf("bit flip at %d: unexpected error %v", pos, err)
		}
	}
	for _, n := range []int{0, 2, 3 + nct, len(p) - 1} {
		if _, err := Open(b, p[:n], knownOf(a.Bundle())); err == nil {
			t.Fatalf("truncation to %d accepted", n)
		}
	}
}

// decryptInner and reseal play an attacker who holds the recipient's key (or is the recipient)
// and changes the inside.
func decryptInner(t *testing.T, me *Identity, p []byte) []byte {
	t.Helper()
	nct := me.scheme.CiphertextSize()
	ss, err := me.scheme.Decapsulate(me.kemSK, p[3:3+nct])
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := chacha20poly1305.NewX(sealKey(ss, me.bundle.kemID, me.bundle.fp))
	in, err := aead.Open(nil, p[3+nct:3+nct+24], p[3+nct+24:], p[:3+nct])
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func reseal(t *testing.T, to *Bundle, padded []byte) []byte {
	t.Helper()
	ct, ss, err := to.scheme.Encapsulate(to.kemPK)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.BigEndian.AppendUint16([]byte{payloadVersion}, to.kemID)
	out = append(out, ct...)
	ad := bytes.Clone(out)
	nonce := make([]byte, 24)
	rand.Read(nonce)
	aead, _ := chacha20poly1305.NewX(sealKey(ss, to.kemID, to.fp))
	return aead.Seal(append(out, nonce...), nonce, padded, ad)
}

// Every field of the signed inner message is covered: changing it after signing is refused.
func TestOpenInnerTamper(t *testing.T) {
	a, b, c := ids(t)
	content := []byte("meet at the library at four")
	p, _, err := Seal(a, b.Bundle(), TypeText, content, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in := decryptInner(t, b, p)
	if _, err := Open(b, reseal(t, b.Bundle(), in), knownOf(a.Bundle())); err != nil {
		t.Fatalf("untouched reseal: %v", err)
	}
	end := innerFixed + len(content)
	cases := []struct {
		name string
		pos  int
		want error
	}{
		{"inner version", 0, ErrTampered},
		{"sender", 1, ErrUnknownSender},
		{"recipient", 1 + 32, ErrMisaddressed},
		{"time", 1 + 64 + 7, ErrTampered},
		{"message id", 1 + 64 + 8, ErrTampered},
		{"content type", 1 + 64 + 8 + 16, ErrTampered},
		{"content length", innerFixed - 1, ErrTampered},
		{"content", innerFixed + 3, ErrTampered},
		{"ed25519 signature", end + 5, ErrTampered},
		{"ml-dsa signature", end + edSigSize + 100, ErrTampered},
		{"padding", end + sigsSize + 10, ErrTampered},
	}
	for _, tc := range cases {
		q := bytes.Clone(in)
		q[tc.pos] ^= 0x01
		m, err := Open(b, reseal(t, b.Bundle(), q), knownOf(a.Bundle(), c.Bundle()))
		if !errors.Is(err, tc.want) || m != nil {
			t.Errorf("%s changed: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Padding cut to a size that is not a bucket.
	if _, err := Open(b, reseal(t, b.Bundle(), in[:len(in)-1]), knownOf(a.Bundle())); !errors.Is(err, ErrTampered) {
		t.Errorf("unpadded inner: %v", err)
	}
}

// A friend who received a signed message cannot pass it on to somebody else as if it had been
// sent to them: the recipient is inside the signature.
func TestResealToAnotherRecipient(t *testing.T) {
	a, b, c := ids(t)
	p, _, err := Seal(a, c.Bundle(), TypeText, []byte("for carl only"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in := decryptInner(t, c, p)
	if _, err := Open(b, reseal(t, b.Bundle(), in), knownOf(a.Bundle())); !errors.Is(err, ErrMisaddressed) {
		t.Fatalf("resealed to bob: %v", err)
	}
	// Rewriting the recipient field breaks the signatures.
	copy(in[1+32:], b.Fingerprint().bytes())
	if _, err := Open(b, reseal(t, b.Bundle(), in), knownOf(a.Bundle())); !errors.Is(err, ErrTampered) {
		t.Fatalf("recipient rewritten: %v", err)
	}
}

func (f Fingerprint) bytes() []byte { return f[:] }

// Somebody with their own keys claims to be alice: both signatures must be alice's.
func TestSignatureForgery(t *testing.T) {
	a, b, c := ids(t)
	p, _, err := Seal(c, b.Bundle(), TypeText, []byte("I am alice, trust me"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in := decryptInner(t, b, p)
	copy(in[1:], a.Fingerprint().bytes())
	if _, err := Open(b, reseal(t, b.Bundle(), in), knownOf(a.Bundle(), c.Bundle())); !errors.Is(err, ErrTampered) {
		t.Fatalf("carl's signature passed as alice's: %v", err)
	}
	// One good signature is not enough: alice's Ed25519 with carl's ML-DSA, and the reverse.
	good, _, _ := Seal(a, b.Bundle(), TypeText, []byte("mixed"), time.Now())
	gin := decryptInner(t, b, good)
	end := innerFixed + len("mixed")
	forged := make([]byte, len(gin))
	copy(forged, gin)
	copy(forged[end+edSigSize:end+sigsSize], c.sign([]byte(msgLabel), gin[:end])[edSigSize:])
	if _, err := Open(b, reseal(t, b.Bundle(), forged), knownOf(a.Bundle())); !errors.Is(err, ErrTampered) {
		t.Fatalf("ML-DSA signature of another key accepted: %v", err)
	}
	copy(forged, gin)
	copy(forged[end:end+edSigSize], c.sign([]byte(msgLabel), gin[:end])[:edSigSize])
	if _, err := Open(b, reseal(t, b.Bundle(), forged), knownOf(a.Bundle())); !errors.Is(err, ErrTampered) {
		t.Fatalf("Ed25519 signature of another key accepted: %v", err)
	}
}

func TestPaddingBuckets(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{0, 4096}, {4096, 4096}, {4097, 8192}, {8192, 8192}, {40000, 65536}, {65536, 65536},
		{65537, 67584}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 32768}, {2_000_000, 2_031_616},
	} {
		if got := Padded(c.n); got != c.want {
			t.Errorf("Padded(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	prev := 0
	for n := 1; n < 8<<20; n += 1 + n/97 {
		p := Padded(n)
		if p < n || p < prev || Padded(p) != p {
			t.Fatalf("Padded(%d) = %d: not monotonic, too small, or not a fixed point", n, p)
		}
		if n > 64<<10 && float64(p-n) > 0.12*float64(n) {
			t.Fatalf("Padded(%d) = %d: overhead above 12%%", n, p)
		}
		prev = p
	}
	// The group floor (PROTOCOL.md 7.9): the same rule from 256 bytes.
	for _, c := range []struct{ n, want int }{
		{0, 256}, {256, 256}, {257, 512}, {4096, 4096}, {4097, 8192}, {65536, 65536},
		{65537, 67584}, {1<<20 + 1, 1<<20 + 32768},
	} {
		if got := PadSize(c.n, 256); got != c.want {
			t.Errorf("PadSize(%d, 256) = %d, want %d", c.n, got, c.want)
		}
	}
	// Two texts of different lengths in one bucket give payloads of one size.
	a, b, _ := ids(t)
	p1, _, _ := Seal(a, b.Bundle(), TypeText, []byte("hi"), time.Now())
	p2, _, _ := Seal(a, b.Bundle(), TypeText, bytes.Repeat([]byte("x"), 500), time.Now())
	if len(p1) != len(p2) {
		t.Fatalf("payloads of 2 and 500 bytes of text differ in size: %d, %d", len(p1), len(p2))
	}
}

func TestBundle(t *testing.T) {
	a, _, _ := ids(t)
	raw := a.Bundle().Bytes()
	b, err := ParseBundle(bytes.Clone(raw))
	if err != nil || b.Fingerprint() != a.Fingerprint() {
		t.Fatalf("reparse: %v", err)
	}
	for _, pos := range []int{0, 3, 4, 5, 7, 20, len(raw) - sigsSize - 5, len(raw) - sigsSize + 3, len(raw) - 5} {
		q := bytes.Clone(raw)
		q[pos] ^= 0x04
		if _, err := ParseBundle(q); err == nil {
			t.Errorf("bundle with byte %d changed accepted", pos)
		}
	}
	if _, err := ParseBundle(raw[:len(raw)-1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated bundle: %v", err)
	}
	q := bytes.Clone(raw)
	binary.BigEndian.PutUint16(q[4:], 0x7777)
	if _, err := ParseBundle(q); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("unknown KEM: %v", err)
	}
}

func TestSafetyNumber(t *testing.T) {
	a, b, c := ids(t)
	ab, ba := SafetyNumber(a.Fingerprint(), b.Fingerprint()), SafetyNumber(b.Fingerprint(), a.Fingerprint())
	if ab != ba {
		t.Fatalf("not symmetric: %s / %s", ab, ba)
	}
	if ab == SafetyNumber(a.Fingerprint(), c.Fingerprint()) {
		t.Fatal("two pairs share a safety number")
	}
	groups := strings.Split(ab, " ")
	if len(groups) != 12 || len(strings.ReplaceAll(ab, " ", "")) != 60 {
		t.Fatalf("safety number %q is not 12 groups of 5 digits", ab)
	}
	// Pinned: the definition in the doc comment and PROTOCOL.md, for fixed fingerprints.
	var x, y Fingerprint
	for i := range x {
		x[i], y[i] = byte(i), byte(255-i)
	}
	if got := SafetyNumber(y, x); got != pinnedSafety {
		t.Fatalf("SafetyNumber(fixed) = %q, want %q", got, pinnedSafety)
	}
	if got := len(strings.ReplaceAll(ShortID(x), " ", "")); got != 30 {
		t.Fatalf("ShortID has %d digits", got)
	}
}

func TestIdentityFile(t *testing.T) {
	a, _, _ := ids(t)
	f, err := a.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if IsProtected(f) {
		t.Fatal("unprotected file reported protected")
	}
	back, err := ParseIdentity(f, nil)
	if err != nil || back.Fingerprint() != a.Fingerprint() {
		t.Fatalf("parse: %v", err)
	}
	// The reloaded identity opens what was sealed to the original, and signs as it.
	_, b, _ := ids(t)
	p, _, _ := Seal(b, a.Bundle(), TypeText, []byte("x"), time.Now())
	if _, err := Open(back, p, knownOf(b.Bundle())); err != nil {
		t.Fatalf("reloaded identity cannot open: %v", err)
	}
	p, _, _ = Seal(back, b.Bundle(), TypeText, []byte("y"), time.Now())
	if _, err := Open(b, p, knownOf(a.Bundle())); err != nil {
		t.Fatalf("reloaded identity's signature: %v", err)
	}

	weak := argonParams{time: 1, memoryKiB: 64, threads: 1} // the test checks the format, not the cost
	pf, err := a.marshal([]byte("correct horse"), weak)
	if err != nil {
		t.Fatal(err)
	}
	if !IsProtected(pf) || bytes.Contains(pf, a.edSeed[:]) || bytes.Contains(pf, a.kemSKB[:64]) {
		t.Fatal("protected file is not protected")
	}
	if _, err := ParseIdentity(pf, nil); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("no passphrase: %v", err)
	}
	if _, err := ParseIdentity(pf, []byte("wrong horse")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if back, err := ParseIdentity(pf, []byte("correct horse")); err != nil || back.Fingerprint() != a.Fingerprint() {
		t.Fatalf("right passphrase: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("ERID"), f[:100], append(bytes.Clone(f), 0)} {
		if _, err := ParseIdentity(bad, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("bad identity file of %d bytes: %v", len(bad), err)
		}
	}
	// Another identity's KEM key spliced in is detected.
	_, c, _ := ids(t)
	mixed := bytes.Clone(f)
	copy(mixed[6+64+4:], c.kemSKB)
	if _, err := ParseIdentity(mixed, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("foreign KEM key: %v", err)
	}
}

func TestMailboxTags(t *testing.T) {
	a, b, _ := ids(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	e := Epoch(time.Unix(1_790_000_000, 0))
	t1 := MailboxTag(secret, a.Fingerprint(), e)
	if t1 != MailboxTag(secret, a.Fingerprint(), e) {
		t.Fatal("not deterministic")
	}
	if t1 == MailboxTag(secret, b.Fingerprint(), e) || t1 == MailboxTag(secret, a.Fingerprint(), e+1) ||
		t1 == MailboxTag([]byte("another secret"), a.Fingerprint(), e) {
		t.Fatal("tag repeats across direction, epoch or pair")
	}
	if Epoch(time.Unix(86400*5+86399, 0)) != 5 || Epoch(time.Unix(86400*6, 0)) != 6 {
		t.Fatal("epoch boundaries")
	}
	now := time.Unix(1_790_000_000, 0)
	tags := ReceiveTags(secret, a.Fingerprint(), now, 7)
	if len(tags) != 9 || tags[1] != MailboxTag(secret, a.Fingerprint(), Epoch(now)) ||
		tags[0] != MailboxTag(secret, a.Fingerprint(), Epoch(now)+1) || tags[8] != MailboxTag(secret, a.Fingerprint(), Epoch(now)-7) {
		t.Fatalf("ReceiveTags: %d tags, wrong order or epochs", len(tags))
	}
}

func TestFileChunk(t *testing.T) {
	c := FileChunk{Index: 2, Count: 3, Size: 10, Name: "photo.jpg", Data: []byte("abcd")}
	rand.Read(c.FileID[:])
	back, err := ParseFileChunk(c.Marshal())
	if err != nil || back.FileID != c.FileID || back.Index != 2 || back.Count != 3 || back.Size != 10 ||
		back.Name != c.Name || !bytes.Equal(back.Data, c.Data) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	for _, name := range []string{"", ".", "..", "../etc/passwd", "a/b", `a\b`, "nul\x00", strings.Repeat("x", 256), "\xff"} {
		bad := c
		bad.Name = name
		if _, err := ParseFileChunk(bad.Marshal()); !errors.Is(err, ErrMalformed) {
			t.Errorf("name %q accepted", name)
		}
	}
	for _, bad := range []FileChunk{{Index: 3, Count: 3, Size: 9, Name: "x"}, {Count: 0, Name: "x"}, {Count: 1, Size: 1, Name: "x", Data: []byte("ab")}} {
		if _, err := ParseFileChunk(bad.Marshal()); !errors.Is(err, ErrMalformed) {
			t.Errorf("chunk %+v accepted", bad)
		}
	}
	if _, err := ParseFileChunk([]byte("short")); !errors.Is(err, ErrMalformed) {
		t.Error("short chunk accepted")
	}
}
