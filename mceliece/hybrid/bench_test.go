package hybrid

import "testing"

func benchScheme() *Scheme {
	if s := Default(); s != nil {
		return s.(*Scheme)
	}
	return standIn
}

func BenchmarkDeriveKeyPair(b *testing.B) {
	s := benchScheme()
	seed := make([]byte, SeedSize)
	for i := 0; b.Loop(); i++ {
		seed[0], seed[1] = byte(i), byte(i>>8)
		s.DeriveKeyPair(seed)
	}
}

func BenchmarkEncapsulate(b *testing.B) {
	s := benchScheme()
	pk, _ := testKey(b, s)
	for b.Loop() {
		if _, _, err := s.Encapsulate(pk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	s := benchScheme()
	pk, sk := testKey(b, s)
	ct, _, err := s.Encapsulate(pk)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Decapsulate(sk, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalPublicKey(b *testing.B) {
	s := benchScheme()
	pk, _ := testKey(b, s)
	pkb := mustMarshal(b, pk)
	b.SetBytes(int64(len(pkb)))
	for b.Loop() {
		if _, err := s.UnmarshalBinaryPublicKey(pkb); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalPrivateKey(b *testing.B) {
	s := benchScheme()
	_, sk := testKey(b, s)
	skb := mustMarshal(b, sk)
	for b.Loop() {
		if _, err := s.UnmarshalBinaryPrivateKey(skb); err != nil {
			b.Fatal(err)
		}
	}
}
