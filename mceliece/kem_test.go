package mceliece

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cloudflare/circl/kem"
)

func TestRegistry(t *testing.T) {
	want := map[string][4]int{ // pk, sk, ct, ss
		"mceliece348864":   {261120, 6492, 96, 32},
		"mceliece348864f":  {261120, 6492, 96, 32},
		"mceliece460896":   {524160, 13608, 156, 32},
		"mceliece460896f":  {524160, 13608, 156, 32},
		"mceliece6688128":  {1044992, 13932, 208, 32},
		"mceliece6688128f": {1044992, 13932, 208, 32},
		"mceliece6960119":  {1047319, 13948, 194, 32},
		"mceliece6960119f": {1047319, 13948, 194, 32},
		"mceliece8192128":  {1357824, 14120, 208, 32},
		"mceliece8192128f": {1357824, 14120, 208, 32},
	}
	all := All()
	if len(all) != len(want) {
		t.Fatalf("All() has %d schemes, want %d", len(all), len(want))
	}
	for _, s := range all {
		w, ok := want[s.Name()]
		if !ok {
			t.Fatalf("unexpected scheme %q", s.Name())
		}
		got := [4]int{s.PublicKeySize(), s.PrivateKeySize(), s.CiphertextSize(), s.SharedKeySize()}
		if got != w {
			t.Errorf("%s sizes %v, want %v", s.Name(), got, w)
		}
		if s.SeedSize() != 32 || s.EncapsulationSeedSize() != 32 {
			t.Errorf("%s seed sizes %d, %d", s.Name(), s.SeedSize(), s.EncapsulationSeedSize())
		}
		if ByName(s.Name()) != s {
			t.Errorf("ByName(%q) is not the scheme from All", s.Name())
		}
	}
	if ByName("mceliece") != nil || ByName("") != nil {
		t.Error("ByName of an unknown name is not nil")
	}
}

func TestRoundTripAndErrors(t *testing.T) {
	s := ByName("mceliece348864")
	other := ByName("mceliece348864f")
	seed := bytes.Repeat([]byte{7}, 32)
	pk, sk := s.DeriveKeyPair(seed)
	pk2, sk2 := s.DeriveKeyPair(seed)
	if !pk.Equal(pk2) || !sk.Equal(sk2) {
		t.Fatal("DeriveKeyPair is not deterministic")
	}
	pkb, _ := pk.MarshalBinary()
	skb, _ := sk.MarshalBinary()
	pk3, err := s.UnmarshalBinaryPublicKey(pkb)
	if err != nil || !pk3.Equal(pk) {
		t.Fatalf("public key round trip: %v", err)
	}
	sk3, err := s.UnmarshalBinaryPrivateKey(skb)
	if err != nil || !sk3.Equal(sk) {
		t.Fatalf("private key round trip: %v", err)
	}
	if !sk3.Public().Equal(pk) {
		t.Fatal("Public() of a parsed secret key differs from the generated public key")
	}
	if sk.Scheme() != s || pk.Scheme() != s {
		t.Fatal("Scheme() of keys")
	}

	eseed := bytes.Repeat([]byte{9}, 32)
	ct1, ss1, err := s.EncapsulateDeterministically(pk, eseed)
	if err != nil {
		t.Fatal(err)
	}
	ct2, ss2, _ := s.EncapsulateDeterministically(pk3, eseed)
	if !bytes.Equal(ct1, ct2) || !bytes.Equal(ss1, ss2) {
		t.Fatal("EncapsulateDeterministically is not deterministic")
	}
	got, err := s.Decapsulate(sk3, ct1)
	if err != nil || !bytes.Equal(got, ss1) {
		t.Fatalf("decapsulation: %v", err)
	}
	// Implicit rejection: a modified ciphertext gives a different key and no error.
	bad := bytes.Clone(ct1)
	bad[0] ^= 1
	rej, err := s.Decapsulate(sk, bad)
	if err != nil || len(rej) != 32 || bytes.Equal(rej, ss1) {
		t.Fatalf("implicit rejection: err %v", err)
	}

	checks := []struct {
		name string
		err  error
		want error
	}{
		{"short public key", errOf(s.UnmarshalBinaryPublicKey(pkb[1:])), kem.ErrPubKeySize},
		{"short private key", errOf(s.UnmarshalBinaryPrivateKey(skb[1:])), kem.ErrPrivKeySize},
		{"long ciphertext", errOf(s.Decapsulate(sk, append(ct1, 0))), kem.ErrCiphertextSize},
		{"nil ciphertext", errOf(s.Decapsulate(sk, nil)), kem.ErrCiphertextSize},
		{"short encapsulation seed", errOf3(s.EncapsulateDeterministically(pk, eseed[1:])), kem.ErrSeedSize},
		{"public key of another set", errOf3(other.Encapsulate(pk)), kem.ErrTypeMismatch},
		{"private key of another set", errOf(other.Decapsulate(sk, ct1)), kem.ErrTypeMismatch},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	func() {
		defer func() {
			if r := recover(); r != kem.ErrSeedSize {
				t.Errorf("DeriveKeyPair with a short seed: recovered %v, want kem.ErrSeedSize", r)
			}
		}()
		s.DeriveKeyPair(seed[1:])
	}()
}

func errOf[T any](_ T, err error) error          { return err }
func errOf3[T, U any](_ T, _ U, err error) error { return err }

// TestPadding6960119 checks the reference behaviour for the non-byte-aligned set: nonzero
// ciphertext padding bits give 32 bytes of 0xFF (and ErrCiphertextPadding), and a public
// key with nonzero row padding is refused.
func TestPadding6960119(t *testing.T) {
	if testing.Short() {
		t.Skip("key generation for mceliece6960119 skipped with -short")
	}
	s := ByName("mceliece6960119")
	pk, sk := s.DeriveKeyPair(make([]byte, 32))
	ct, ss, err := s.Encapsulate(pk)
	if err != nil {
		t.Fatal(err)
	}
	if ct[len(ct)-1]>>3 != 0 {
		t.Fatal("encapsulation produced nonzero padding bits")
	}
	if got, err := s.Decapsulate(sk, ct); err != nil || !bytes.Equal(got, ss) {
		t.Fatalf("decapsulation of a valid ciphertext: %v", err)
	}
	for bit := 3; bit < 8; bit++ {
		bad := bytes.Clone(ct)
		bad[len(bad)-1] |= 1 << bit
		got, err := s.Decapsulate(sk, bad)
		if !errors.Is(err, ErrCiphertextPadding) {
			t.Fatalf("padding bit %d: error %v", bit, err)
		}
		if !bytes.Equal(got, bytes.Repeat([]byte{0xFF}, 32)) {
			t.Fatalf("padding bit %d: key %X, want all 0xFF", bit, got)
		}
	}
	pkb, _ := pk.MarshalBinary()
	p := s.(*Scheme).p
	for _, row := range []int{0, p.mt - 1} {
		bad := bytes.Clone(pkb)
		bad[(row+1)*p.pkRowBytes-1] |= 0x80
		if _, err := s.UnmarshalBinaryPublicKey(bad); !errors.Is(err, kem.ErrPubKey) {
			t.Fatalf("public key with padding in row %d: error %v", row, err)
		}
	}
}

func TestNilKeys(t *testing.T) {
	s := ByName("mceliece348864")
	var pk *PublicKey
	var sk *PrivateKey
	if _, _, err := s.Encapsulate(pk); !errors.Is(err, kem.ErrTypeMismatch) {
		t.Errorf("typed nil public key: %v", err)
	}
	if _, _, err := s.Encapsulate(nil); !errors.Is(err, kem.ErrTypeMismatch) {
		t.Errorf("nil public key: %v", err)
	}
	if _, err := s.Decapsulate(sk, make([]byte, 96)); !errors.Is(err, kem.ErrTypeMismatch) {
		t.Errorf("typed nil private key: %v", err)
	}
	if _, err := s.Decapsulate(nil, make([]byte, 96)); !errors.Is(err, kem.ErrTypeMismatch) {
		t.Errorf("nil private key: %v", err)
	}
}
