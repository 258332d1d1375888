package hybrid

import (
	"bytes"
	"testing"

	"github.com/cloudflare/circl/kem"
)

// overlay copies data into a clone of base at off (mod len(base)), truncated
// to fit, so that the fuzzer explores inputs of exactly the right size.
func overlay(base, data []byte, off uint32) []byte {
	out := bytes.Clone(base)
	if len(out) > 0 {
		copy(out[int(off%uint32(len(out))):], data)
	}
	return out
}

func FuzzDecapsulate(f *testing.F) {
	s := fuzzScheme()
	pk, sk := testKey(f, s)
	ct, ss, err := s.Encapsulate(pk)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct, uint32(0))
	f.Add(flip(ct, 0), uint32(0))
	f.Add(flip(ct, len(ct)-1), uint32(len(ct)-1))
	f.Add([]byte{}, uint32(0))
	f.Add(make([]byte, 32), uint32(len(ct)-32))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint32(s.mc.CiphertextSize()))
	for _, v := range fuzzVectorCiphertexts(f, s) {
		f.Add(v, uint32(0))
	}

	f.Fuzz(func(t *testing.T, data []byte, off uint32) {
		got, err := s.Decapsulate(sk, data)
		if len(data) != s.CiphertextSize() {
			if err == nil || got != nil {
				t.Fatalf("%d-byte ciphertext: no error", len(data))
			}
		} else if err != nil || len(got) != SharedKeySize {
			t.Fatalf("decapsulation: %d bytes, %v", len(got), err)
		}

		c := overlay(ct, data, off)
		got, err = s.Decapsulate(sk, c)
		if err != nil || len(got) != SharedKeySize {
			t.Fatalf("decapsulation: %d bytes, %v", len(got), err)
		}
		if bytes.Equal(c, ct) != bytes.Equal(got, ss) {
			t.Fatal("secret equal to the original for a different ciphertext, or vice versa")
		}
	})
}

func FuzzUnmarshalPublicKey(f *testing.F) {
	s := fuzzScheme()
	pk, _ := testKey(f, s)
	pkb := mustMarshal(f, pk)
	nMC := s.mc.PublicKeySize()
	f.Add([]byte{}, uint32(0))
	f.Add(make([]byte, 32), uint32(len(pkb)-32))      // X25519 u = 0
	f.Add(bytes.Repeat([]byte{0xff}, 2), uint32(nMC)) // ML-KEM coefficient ≥ q
	f.Add([]byte{0x01}, uint32(0))
	f.Add([]byte{0x80}, uint32(nMC-1))

	f.Fuzz(func(t *testing.T, data []byte, off uint32) {
		if p, err := s.UnmarshalBinaryPublicKey(data); err == nil {
			if !bytes.Equal(mustMarshal(t, p), data) {
				t.Fatal("parse then marshal is not byte-exact")
			}
		}
		b := overlay(pkb, data, off)
		p, err := s.UnmarshalBinaryPublicKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(mustMarshal(t, p), b) {
			t.Fatal("parse then marshal is not byte-exact")
		}
		if ct, ss, err := s.Encapsulate(p); err != nil || len(ct) != s.CiphertextSize() || len(ss) != SharedKeySize {
			t.Fatalf("encapsulation to a parsed key: %v", err)
		}
	})
}

func FuzzUnmarshalPrivateKey(f *testing.F) {
	s := fuzzScheme()
	pk, sk := testKey(f, s)
	skb := mustMarshal(f, sk)
	ct, _, err := s.Encapsulate(pk)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, uint32(0))
	f.Add(make([]byte, 64), uint32(0))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint32(0))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint32(40))
	f.Add(make([]byte, 32), uint32(len(skb)-32))

	// The McEliece component may normalise unused bits of its secret key
	// (the ML-KEM-512 stand-in does), so only the hybrid's own fields are
	// required to be byte-exact, and a re-parse to be stable.
	nMC := s.mc.PrivateKeySize()
	stable := func(t *testing.T, b []byte) kem.PrivateKey {
		k, err := s.UnmarshalBinaryPrivateKey(b)
		if err != nil {
			return nil
		}
		b2 := mustMarshal(t, k)
		if !bytes.Equal(b2[nMC:], b[nMC:]) {
			t.Fatal("parse then marshal changed the hybrid fields")
		}
		k2, err := s.UnmarshalBinaryPrivateKey(b2)
		if err != nil || !bytes.Equal(mustMarshal(t, k2), b2) || !k2.Equal(k) {
			t.Fatal("re-parsing a marshalled private key is not stable", err)
		}
		return k
	}

	f.Fuzz(func(t *testing.T, data []byte, off uint32) {
		stable(t, data)
		k := stable(t, overlay(skb, data, off))
		if k == nil {
			return
		}
		if got, err := s.Decapsulate(k, ct); err != nil || len(got) != SharedKeySize {
			t.Fatalf("decapsulation with a parsed key: %d bytes, %v", len(got), err)
		}
	})
}
