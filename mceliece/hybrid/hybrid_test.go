package hybrid

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha3"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/echorelay/echorelay/mceliece"
)

func TestRoundTrip(t *testing.T) {
	for _, s := range testSchemes(t) {
		t.Run(s.Name(), func(t *testing.T) {
			pk, sk := testKey(t, s)

			ct, ss, err := s.Encapsulate(pk)
			if err != nil {
				t.Fatal(err)
			}
			if len(ct) != s.CiphertextSize() || len(ss) != SharedKeySize {
				t.Fatalf("ct %d bytes, ss %d bytes", len(ct), len(ss))
			}
			got, err := s.Decapsulate(sk, ct)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, ss) {
				t.Fatal("decapsulated secret differs")
			}

			// Parse then marshal is byte-exact, and parsed keys work.
			pkb := mustMarshal(t, pk)
			skb := mustMarshal(t, sk)
			if len(pkb) != s.PublicKeySize() || len(skb) != s.PrivateKeySize() {
				t.Fatalf("pk %d bytes, sk %d bytes", len(pkb), len(skb))
			}
			pk2, err := s.UnmarshalBinaryPublicKey(pkb)
			if err != nil {
				t.Fatal(err)
			}
			sk2, err := s.UnmarshalBinaryPrivateKey(skb)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustMarshal(t, pk2), pkb) || !bytes.Equal(mustMarshal(t, sk2), skb) {
				t.Fatal("unmarshal then marshal is not byte-exact")
			}
			if !pk2.Equal(pk) || !pk.Equal(pk2) || !sk2.Equal(sk) || !sk.Equal(sk2) {
				t.Fatal("parsed keys are not Equal to the originals")
			}
			if pk2.Scheme() != kem.Scheme(s) || sk2.Scheme() != kem.Scheme(s) {
				t.Fatal("parsed keys report another scheme")
			}
			if got, err := s.Decapsulate(sk2, ct); err != nil || !bytes.Equal(got, ss) {
				t.Fatal("parsed private key decapsulates differently", err)
			}
			ct2, ss2, err := s.Encapsulate(pk2)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Decapsulate(sk, ct2); err != nil || !bytes.Equal(got, ss2) {
				t.Fatal("encapsulation to the parsed public key does not round-trip", err)
			}
			if bytes.Equal(ct, ct2) || bytes.Equal(ss, ss2) {
				t.Fatal("two encapsulations gave the same output")
			}
			if !sk.Public().Equal(pk) {
				t.Fatal("Public of the derived private key differs")
			}
		})
	}
}

// TestPublicOfParsedKey recomputes the public key from an unmarshalled
// private key, which goes through the McEliece component's Public.
func TestPublicOfParsedKey(t *testing.T) {
	s := testSchemes(t)[0]
	pk, sk := testKey(t, s)
	sk2, err := s.UnmarshalBinaryPrivateKey(mustMarshal(t, sk))
	if err != nil {
		t.Fatal(err)
	}
	pub := sk2.Public()
	if pub == nil {
		t.Fatalf("%s: McEliece component cannot recompute its public key", s.Name())
	}
	if !pub.Equal(pk) || !bytes.Equal(mustMarshal(t, pub), mustMarshal(t, pk)) {
		t.Fatal("recomputed public key differs")
	}
}

func TestGenerateKeyPair(t *testing.T) {
	s := standIn
	if !testing.Short() {
		s = fuzzScheme()
	}
	pk, sk, err := s.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ct, ss, err := s.Encapsulate(pk)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Decapsulate(sk, ct); err != nil || !bytes.Equal(got, ss) {
		t.Fatal("generated key pair does not round-trip", err)
	}
	_, sk0 := testKey(t, s)
	if sk.Equal(sk0) {
		t.Fatal("GenerateKeyPair returned the fixed test key")
	}
}

func TestDeterministic(t *testing.T) {
	s := standIn // DeriveKeyPair twice: cheap only for the stand-in
	seed := bytes.Repeat([]byte{7}, SeedSize)
	pk1, sk1 := s.DeriveKeyPair(seed)
	pk2, sk2 := s.DeriveKeyPair(seed)
	if !pk1.Equal(pk2) || !sk1.Equal(sk2) {
		t.Fatal("DeriveKeyPair is not deterministic")
	}
	eseed := bytes.Repeat([]byte{9}, EncapsulationSeedSize)
	ct1, ss1, err1 := s.EncapsulateDeterministically(pk1, eseed)
	ct2, ss2, err2 := s.EncapsulateDeterministically(pk1, eseed)
	if err1 != nil || err2 != nil || !bytes.Equal(ct1, ct2) || !bytes.Equal(ss1, ss2) {
		t.Fatal("EncapsulateDeterministically is not deterministic")
	}
	seed[0] ^= 1
	if pk3, _ := s.DeriveKeyPair(seed); pk3.Equal(pk1) {
		t.Fatal("different seeds gave the same key")
	}
}

func TestWrongSizes(t *testing.T) {
	schemes := testSchemes(t)
	if schemes[0] != standIn {
		schemes = append(schemes, standIn)
	}
	for _, s := range schemes {
		t.Run(s.Name(), func(t *testing.T) {
			pk, sk := testKey(t, s)
			ct, _, err := s.Encapsulate(pk)
			if err != nil {
				t.Fatal(err)
			}
			pkb, skb := mustMarshal(t, pk), mustMarshal(t, sk)

			for _, n := range []int{0, 1, len(pkb) - 1, len(pkb) + 1} {
				if _, err := s.UnmarshalBinaryPublicKey(resize(pkb, n)); !errors.Is(err, kem.ErrPubKeySize) {
					t.Errorf("public key of %d bytes: %v", n, err)
				}
			}
			for _, n := range []int{0, 1, len(skb) - 1, len(skb) + 1} {
				if _, err := s.UnmarshalBinaryPrivateKey(resize(skb, n)); !errors.Is(err, kem.ErrPrivKeySize) {
					t.Errorf("private key of %d bytes: %v", n, err)
				}
			}
			for _, n := range []int{0, 1, len(ct) - 1, len(ct) + 1} {
				if ss, err := s.Decapsulate(sk, resize(ct, n)); !errors.Is(err, kem.ErrCiphertextSize) || ss != nil {
					t.Errorf("ciphertext of %d bytes: %v", n, err)
				}
			}
			if _, err := s.Decapsulate(sk, nil); !errors.Is(err, kem.ErrCiphertextSize) {
				t.Errorf("nil ciphertext: %v", err)
			}
			for _, n := range []int{0, 31, 33} {
				if _, _, err := s.EncapsulateDeterministically(pk, make([]byte, n)); !errors.Is(err, kem.ErrSeedSize) {
					t.Errorf("encapsulation seed of %d bytes: %v", n, err)
				}
			}
		})
	}
}

func TestDeriveKeyPairSeedSizePanics(t *testing.T) {
	for _, n := range []int{0, 31, 33} {
		func() {
			defer func() {
				if r := recover(); r != kem.ErrSeedSize {
					t.Errorf("seed of %d bytes: recovered %v, want kem.ErrSeedSize", n, r)
				}
			}()
			standIn.DeriveKeyPair(make([]byte, n))
		}()
	}
}

func TestTypeMismatch(t *testing.T) {
	s := standIn
	pk, sk := testKey(t, s)
	ct, _, _ := s.Encapsulate(pk)
	other := newScheme(0xff02, "standin-mlkem512", s.mc) // same shape, other scheme
	mpk, msk, _ := mlkem768.Scheme().GenerateKeyPair()
	for name, p := range map[string]kem.PublicKey{
		"nil": nil, "typed nil": (*PublicKey)(nil), "ML-KEM-768": mpk,
	} {
		if _, _, err := s.Encapsulate(p); !errors.Is(err, kem.ErrTypeMismatch) {
			t.Errorf("Encapsulate(%s): %v", name, err)
		}
	}
	if _, _, err := other.Encapsulate(pk); !errors.Is(err, kem.ErrTypeMismatch) {
		t.Errorf("Encapsulate to a key of another hybrid: %v", err)
	}
	for name, k := range map[string]kem.PrivateKey{
		"nil": nil, "typed nil": (*PrivateKey)(nil), "ML-KEM-768": msk,
	} {
		if _, err := s.Decapsulate(k, ct); !errors.Is(err, kem.ErrTypeMismatch) {
			t.Errorf("Decapsulate(%s): %v", name, err)
		}
	}
	if _, err := other.Decapsulate(sk, ct); !errors.Is(err, kem.ErrTypeMismatch) {
		t.Errorf("Decapsulate with a key of another hybrid: %v", err)
	}
	if pk.Equal(nil) || pk.Equal(mpk) || sk.Equal(nil) || sk.Equal(msk) {
		t.Error("Equal accepted a foreign key")
	}
}

// TestImplicitRejection: a modified ciphertext decapsulates without error to
// a different 32-byte secret, whichever component was modified.
func TestImplicitRejection(t *testing.T) {
	for _, s := range testSchemes(t) {
		t.Run(s.Name(), func(t *testing.T) {
			pk, sk := testKey(t, s)
			ct, ss, err := s.Encapsulate(pk)
			if err != nil {
				t.Fatal(err)
			}
			nMC := s.mc.CiphertextSize()
			cases := map[string][]byte{
				"mceliece first byte": flip(ct, 0),
				"mceliece last byte":  flip(ct, nMC-1),
				"mlkem first byte":    flip(ct, nMC),
				"mlkem last byte":     flip(ct, nMC+mlkemCiphertextSize-1),
				"x25519 first byte":   flip(ct, nMC+mlkemCiphertextSize),
				"x25519 zero (low)":   append(bytes.Clone(ct[:len(ct)-32]), make([]byte, 32)...),
			}
			hi := bytes.Clone(ct)
			hi[len(hi)-1] ^= 0x80 // the same X25519 point, another encoding
			cases["x25519 high bit"] = hi
			cases["all zero"] = make([]byte, len(ct))
			cases["all ones"] = bytes.Repeat([]byte{0xff}, len(ct))
			seen := map[string]string{string(ss): "original"}
			for name, bad := range cases {
				got, err := s.Decapsulate(sk, bad)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if len(got) != SharedKeySize {
					t.Errorf("%s: %d-byte secret", name, len(got))
				}
				if prev, dup := seen[string(got)]; dup {
					t.Errorf("%s: same secret as %s", name, prev)
				}
				seen[string(got)] = name
			}
		})
	}
}

// TestPublicKeyBinding: changing any component of the public key changes the
// secret of a deterministic encapsulation, and a private key whose cached
// McEliece hash is wrong derives another secret.
func TestPublicKeyBinding(t *testing.T) {
	s := testSchemes(t)[0]
	pk, sk := testKey(t, s)
	pkb := mustMarshal(t, pk)
	seed := bytes.Repeat([]byte{3}, EncapsulationSeedSize)
	ct, ss, err := s.EncapsulateDeterministically(pk, seed)
	if err != nil {
		t.Fatal(err)
	}

	nMC := s.mc.PublicKeySize()
	otherML, _ := mlkem768.Scheme().DeriveKeyPair(make([]byte, mlkemSeedSize))
	otherX, _ := ecdh.X25519().NewPrivateKey(make([]byte, 32))
	cases := map[string][]byte{
		"mceliece": flip(pkb, 0),
		"mlkem":    append(append(bytes.Clone(pkb[:nMC]), mustMarshal(t, otherML)...), pkb[nMC+mlkemPublicKeySize:]...),
		"x25519":   append(bytes.Clone(pkb[:nMC+mlkemPublicKeySize]), otherX.PublicKey().Bytes()...),
	}
	for name, b := range cases {
		p, err := s.UnmarshalBinaryPublicKey(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, ss2, err := s.EncapsulateDeterministically(p, seed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Equal(ss, ss2) {
			t.Errorf("%s: modified public key gives the same secret", name)
		}
	}

	skb := mustMarshal(t, sk)
	skb[len(skb)-1] ^= 1 // the cached H(mc_pk)
	sk2, err := s.UnmarshalBinaryPrivateKey(skb)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Decapsulate(sk2, ct); err != nil || bytes.Equal(got, ss) {
		t.Errorf("private key with another McEliece hash: err %v, same secret %v", err, bytes.Equal(got, ss))
	}
}

func TestLowOrderPublicKey(t *testing.T) {
	s := standIn
	pk, _ := testKey(t, s)
	pkb := mustMarshal(t, pk)
	// u = 0 has order 2 and u = 1 order 4.
	for _, u := range [][]byte{make([]byte, 32), append([]byte{1}, make([]byte, 31)...)} {
		b := append(bytes.Clone(pkb[:len(pkb)-32]), u...)
		if _, err := s.UnmarshalBinaryPublicKey(b); !errors.Is(err, kem.ErrPubKey) {
			t.Errorf("low-order X25519 share %x: %v", u[:1], err)
		}
	}
}

// TestConstruction recomputes a hybrid encapsulation from the components,
// following HYBRID.md rather than the package code, and compares.
func TestConstruction(t *testing.T) {
	s := testSchemes(t)[0]
	seed := bytes.Repeat([]byte{0x42}, SeedSize)
	eseed := bytes.Repeat([]byte{0x24}, EncapsulationSeedSize)
	if s != standIn {
		// Fixed-seed DeriveKeyPair of a real set is another slow keygen;
		// the vectors cover those. Check the stand-in here as well.
		checkConstruction(t, standIn, seed, eseed)
	}
	checkConstruction(t, s, seed, eseed)
}

func checkConstruction(t *testing.T, s *Scheme, seed, eseed []byte) {
	t.Helper()
	label := fmt.Sprintf("echorelay-hybrid-v1/%04x/%s+mlkem768+x25519", s.ID(), s.mcName)
	xof := func(purpose, comp string, sd []byte, n int) []byte {
		in := []byte(label + "/" + purpose + "/" + comp + "\x00")
		return sha3.SumSHAKE256(append(in, sd...), n)
	}
	var pk kem.PublicKey
	if s == standIn {
		pk, _ = s.DeriveKeyPair(seed)
	} else {
		pk, _ = testKey(t, s)
		seed = nil
	}
	ct, ss, err := s.EncapsulateDeterministically(pk, eseed)
	if err != nil {
		t.Fatal(err)
	}

	pkb := mustMarshal(t, pk)
	nMC := s.mc.PublicKeySize()
	pkMC, pkML, pkX := pkb[:nMC], pkb[nMC:nMC+1184], pkb[nMC+1184:]
	if seed != nil {
		mcPK, _ := s.mc.DeriveKeyPair(xof("keygen", "mceliece", seed, s.mc.SeedSize()))
		mlPK, _ := mlkem768.Scheme().DeriveKeyPair(xof("keygen", "mlkem768", seed, 64))
		xSK, _ := ecdh.X25519().NewPrivateKey(xof("keygen", "x25519", seed, 32))
		if !bytes.Equal(pkMC, mustMarshal(t, mcPK)) || !bytes.Equal(pkML, mustMarshal(t, mlPK)) ||
			!bytes.Equal(pkX, xSK.PublicKey().Bytes()) {
			t.Fatal("public key is not mc_pk ‖ mlkem_pk ‖ x25519_pk of the expanded seeds")
		}
	}
	mcPK, _ := s.mc.UnmarshalBinaryPublicKey(pkMC)
	mlPK, _ := mlkem768.Scheme().UnmarshalBinaryPublicKey(pkML)
	xPK, _ := ecdh.X25519().NewPublicKey(pkX)
	ctMC, ssMC, _ := s.mc.EncapsulateDeterministically(mcPK, xof("encaps", "mceliece", eseed, s.mc.EncapsulationSeedSize()))
	ctML, ssML, _ := mlkem768.Scheme().EncapsulateDeterministically(mlPK, xof("encaps", "mlkem768", eseed, 32))
	eph, _ := ecdh.X25519().NewPrivateKey(xof("encaps", "x25519", eseed, 32))
	ssX, _ := eph.ECDH(xPK)
	ctX := eph.PublicKey().Bytes()
	if !bytes.Equal(ct, bytes.Join([][]byte{ctMC, ctML, ctX}, nil)) {
		t.Fatal("ciphertext is not ct_mc ‖ ct_mlkem ‖ ct_x")
	}
	hMC, hML, hX := sha3.Sum256(pkMC), sha3.Sum256(pkML), sha3.Sum256(pkX)
	want := sha3.Sum256(bytes.Join([][]byte{[]byte(label), ssMC, ssML, ssX, ctMC, ctML, ctX, hMC[:], hML[:], hX[:]}, nil))
	if !bytes.Equal(ss, want[:]) {
		t.Fatal("shared secret does not follow the documented combiner")
	}
}

func TestDefaultLabel(t *testing.T) {
	s := newScheme(DefaultID, "mceliece6688128f", standIn.mc)
	if got, want := string(s.label), "echorelay-hybrid-v1/0101/mceliece6688128f+mlkem768+x25519"; got != want {
		t.Fatalf("label %q, want %q", got, want)
	}
	if got, want := s.Name(), "mceliece6688128f-mlkem768-x25519"; got != want {
		t.Fatalf("name %q, want %q", got, want)
	}
}

func TestIdentifierTable(t *testing.T) {
	ids := map[uint16]bool{}
	names := map[string]bool{}
	for _, e := range sets {
		if ids[e.id] || names[e.mcName] || e.id>>8 != 0x01 {
			t.Errorf("bad or duplicate entry %04x %s", e.id, e.mcName)
		}
		ids[e.id], names[e.mcName] = true, true
	}
	if sets[0].id != DefaultID || sets[0].mcName != "mceliece6688128f" {
		t.Error("the default is not 0x0101 mceliece6688128f")
	}
}

func TestRegistry(t *testing.T) {
	if New("nope") != nil || ByID(0) != nil || ByID(0xffff) != nil {
		t.Error("unknown names or identifiers return a scheme")
	}
	if _, ok := IDOf(standIn); ok {
		t.Error("IDOf accepts an unregistered hybrid")
	}
	if _, ok := IDOf(mlkem768.Scheme()); ok {
		t.Error("IDOf accepts ML-KEM-768")
	}
	if _, ok := IDOf(nil); ok {
		t.Error("IDOf accepts nil")
	}
	all := All()
	if len(all) == 0 {
		t.Fatal("no McEliece sets registered")
	}
	for _, mc := range mceliece.All() {
		if h := New(mc.Name()); h == nil || h.(*Scheme).McEliece() != mc {
			t.Errorf("McEliece set %s has no hybrid", mc.Name())
		}
	}
	if len(all) != len(mceliece.All()) {
		t.Errorf("%d hybrids for %d McEliece sets", len(all), len(mceliece.All()))
	}
	if d := Default(); d == nil || d.Name() != "mceliece6688128f-mlkem768-x25519" {
		t.Fatalf("Default() = %v", d)
	}
	var prev uint16
	for _, s := range all {
		id, ok := IDOf(s)
		if !ok || ByID(id) != s || id <= prev {
			t.Errorf("%s: id %04x %v, not ordered or not found", s.Name(), id, ok)
		}
		prev = id
		h := s.(*Scheme)
		if New(h.mcName) != s || h.ID() != id || h.Name() != h.mcName+"-mlkem768-x25519" {
			t.Errorf("%s: New/ID/Name disagree", s.Name())
		}
		if s.SharedKeySize() != 32 || s.SeedSize() != 32 || s.EncapsulationSeedSize() != 32 {
			t.Errorf("%s: sizes", s.Name())
		}
	}
}

func resize(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// pickyKEM rejects explicitly, like mceliece6960119* on padding bits, every
// ciphertext whose first byte is 0xee.
type pickyKEM struct{ kem.Scheme }

var errPicky = errors.New("picky: rejected")

func (p pickyKEM) Decapsulate(sk kem.PrivateKey, ct []byte) ([]byte, error) {
	if len(ct) > 0 && ct[0] == 0xee {
		return bytes.Repeat([]byte{0xff}, 32), errPicky
	}
	return p.Scheme.Decapsulate(sk, ct)
}

// TestComponentExplicitRejection: a McEliece ciphertext that the component
// refuses with an error still gives a 32-byte secret and no error.
func TestComponentExplicitRejection(t *testing.T) {
	s := newScheme(0xff03, "picky-mlkem512", pickyKEM{standIn.mc})
	pk, sk := s.DeriveKeyPair(vectorSeed)
	ct, ss, err := s.Encapsulate(pk)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(ct)
	bad[0] = 0xee
	got, err := s.Decapsulate(sk, bad)
	if err != nil || len(got) != SharedKeySize || bytes.Equal(got, ss) {
		t.Fatalf("explicitly rejected component: %x, %v", got, err)
	}

	// The real case: mceliece6960119* ciphertexts end in 5 padding bits.
	for _, r := range testSchemes(t) {
		if !strings.HasPrefix(r.mcName, "mceliece6960119") {
			continue
		}
		pk, sk := testKey(t, r)
		ct, ss, err := r.Encapsulate(pk)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(ct)
		bad[r.mc.CiphertextSize()-1] |= 0x80
		got, err := r.Decapsulate(sk, bad)
		if err != nil || len(got) != SharedKeySize || bytes.Equal(got, ss) {
			t.Fatalf("%s padding bits: %x, %v", r.Name(), got, err)
		}
	}
}

// TestConcurrentUse shares one parsed private key between goroutines: Public
// is computed lazily and must be safe (run with -race).
func TestConcurrentUse(t *testing.T) {
	s := standIn
	pk, sk := testKey(t, s)
	sk2, err := s.UnmarshalBinaryPrivateKey(mustMarshal(t, sk))
	if err != nil {
		t.Fatal(err)
	}
	ct, ss, err := s.Encapsulate(pk)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			if got, err := s.Decapsulate(sk2, ct); err != nil || !bytes.Equal(got, ss) {
				errs <- fmt.Errorf("decapsulation: %v", err)
				return
			}
			if !sk2.Public().Equal(pk) {
				errs <- errors.New("Public differs")
				return
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
