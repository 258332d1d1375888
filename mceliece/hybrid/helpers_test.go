package hybrid

import (
	"bytes"
	"sync"
	"testing"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
)

// standIn puts ML-KEM-512 where McEliece goes. Tests that need many key
// generations use it to exercise the hybrid logic quickly; testSchemes falls
// back to it if no McEliece set is registered.
var standIn = newScheme(0xff01, "standin-mlkem512", mlkem512.Scheme())

// testSchemes returns the hybrids under test: every registered one, only the
// default under -short, or the stand-in when none is registered.
func testSchemes(t testing.TB) []*Scheme {
	t.Helper()
	all := All()
	if len(all) == 0 {
		t.Log("no McEliece sets registered; testing the ML-KEM-512 stand-in")
		return []*Scheme{standIn}
	}
	if testing.Short() {
		return []*Scheme{Default().(*Scheme)}
	}
	out := make([]*Scheme, len(all))
	for i, s := range all {
		out[i] = s.(*Scheme)
	}
	return out
}

// fuzzScheme is the smallest registered set (fastest key generation), or
// the default under -short to share its key with the other tests, or the
// stand-in.
func fuzzScheme() *Scheme {
	if testing.Short() {
		if s := Default(); s != nil {
			return s.(*Scheme)
		}
	}
	if s := New("mceliece348864f"); s != nil {
		return s.(*Scheme)
	}
	return standIn
}

type keyPair struct {
	pk *PublicKey
	sk *PrivateKey
}

var keyCache sync.Map // *Scheme → *keyPair, guarded by per-scheme once
var keyOnce sync.Map  // *Scheme → *sync.Once

// testKey derives (once per test binary) a key pair for s from a fixed seed.
// McEliece key generation is slow, so every test shares it.
func testKey(t testing.TB, s *Scheme) (*PublicKey, *PrivateKey) {
	t.Helper()
	o, _ := keyOnce.LoadOrStore(s, new(sync.Once))
	o.(*sync.Once).Do(func() {
		pk, sk := s.DeriveKeyPair(vectorSeed)
		keyCache.Store(s, &keyPair{pk.(*PublicKey), sk.(*PrivateKey)})
	})
	kp, _ := keyCache.Load(s)
	return kp.(*keyPair).pk, kp.(*keyPair).sk
}

func mustMarshal(t testing.TB, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

var _ kem.Scheme = standIn
