package mceliece

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudflare/circl/kem"
)

// Fuzzing uses secret keys stored under testdata/fuzz-keys (derived from the seed
// 0x5A..5A, checked by TestFuzzKeysCurrent), since key generation under the fuzzer's
// coverage instrumentation would outlast its per-input time limit.
var fuzzSets = []string{"mceliece348864", "mceliece6960119"}

func fuzzSeed() []byte { return bytes.Repeat([]byte{0x5A}, 32) }

func loadFuzzKeys(tb testing.TB) map[string]kem.PrivateKey {
	out := map[string]kem.PrivateKey{}
	for _, name := range fuzzSets {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz-keys", name+".sk"))
		if err != nil {
			tb.Fatal(err)
		}
		sk, err := ByName(name).UnmarshalBinaryPrivateKey(b)
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = sk
	}
	return out
}

// TestFuzzKeysCurrent checks the stored fuzzing keys; MCELIECE_WRITE_FUZZ_KEYS=1 rewrites
// them together with the seed corpus of valid ciphertexts.
func TestFuzzKeysCurrent(t *testing.T) {
	write := os.Getenv("MCELIECE_WRITE_FUZZ_KEYS") == "1"
	if testing.Short() && !write {
		t.Skip("key generation skipped with -short")
	}
	for _, name := range fuzzSets {
		s := ByName(name)
		pk, sk := s.DeriveKeyPair(fuzzSeed())
		skb, _ := sk.MarshalBinary()
		path := filepath.Join("testdata", "fuzz-keys", name+".sk")
		if write {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, skb, 0o644); err != nil {
				t.Fatal(err)
			}
			ct, _, err := s.EncapsulateDeterministically(pk, fuzzSeed())
			if err != nil {
				t.Fatal(err)
			}
			corpus := filepath.Join("testdata", "fuzz", "FuzzDecapsulate", "valid-"+name)
			if err := os.MkdirAll(filepath.Dir(corpus), 0o755); err != nil {
				t.Fatal(err)
			}
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", ct)
			if err := os.WriteFile(corpus, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		stored, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored, skb) {
			t.Fatalf("%s differs from DeriveKeyPair(0x5A...)", path)
		}
	}
}

// FuzzDecapsulate: any byte string either is refused for its size or decapsulates to 32
// bytes (implicit rejection), and only 6960119 padding is ever reported as an error.
func FuzzDecapsulate(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 96))
	f.Add(bytes.Repeat([]byte{0xFF}, 194))
	keys := loadFuzzKeys(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, sk := range keys {
			s := ByName(name)
			ss, err := s.Decapsulate(sk, data)
			if len(data) != s.CiphertextSize() {
				if !errors.Is(err, kem.ErrCiphertextSize) {
					t.Fatalf("%s: %d-byte ciphertext: error %v", name, len(data), err)
				}
			} else if err != nil && !errors.Is(err, ErrCiphertextPadding) {
				t.Fatalf("%s: unexpected error %v", name, err)
			} else if len(ss) != 32 {
				t.Fatalf("%s: %d-byte shared key", name, len(ss))
			}
			// Also decapsulate the input cut or padded to the right size.
			ct := make([]byte, s.CiphertextSize())
			copy(ct, data)
			ss, err = s.Decapsulate(sk, ct)
			if len(ss) != 32 || (err != nil && !errors.Is(err, ErrCiphertextPadding)) {
				t.Fatalf("%s: resized ciphertext: %d bytes, error %v", name, len(ss), err)
			}
		}
	})
}

// FuzzUnmarshal: parsing arbitrary bytes as keys of any set never panics; what parses
// marshals back byte for byte, and a parsed secret key decapsulates without panicking.
func FuzzUnmarshal(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(6), []byte{0xFF, 0x00, 0x13})
	f.Add(uint8(9), []byte("mceliece"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		s := All()[int(which)%len(All())]
		if _, err := s.UnmarshalBinaryPublicKey(data); err == nil && len(data) != s.PublicKeySize() {
			t.Fatal("accepted a public key of the wrong size")
		}
		if _, err := s.UnmarshalBinaryPrivateKey(data); err == nil && len(data) != s.PrivateKeySize() {
			t.Fatal("accepted a private key of the wrong size")
		}
		if len(data) == 0 {
			return
		}
		// Stretch the input to the exact sizes so that full parsing is exercised.
		skb := stretch(data, s.PrivateKeySize())
		sk, err := s.UnmarshalBinaryPrivateKey(skb)
		if err != nil {
			t.Fatal(err)
		}
		if out, _ := sk.MarshalBinary(); !bytes.Equal(out, skb) {
			t.Fatal("private key does not round-trip")
		}
		ss, err := s.Decapsulate(sk, stretch(data, s.CiphertextSize()))
		if len(ss) != 32 || (err != nil && !errors.Is(err, ErrCiphertextPadding)) {
			t.Fatalf("decapsulation with a parsed key: %d bytes, %v", len(ss), err)
		}
		pkb := stretch(data, s.PublicKeySize())
		pk, err := s.UnmarshalBinaryPublicKey(pkb)
		if err != nil {
			if !errors.Is(err, kem.ErrPubKey) {
				t.Fatal(err)
			}
			return
		}
		if out, _ := pk.MarshalBinary(); !bytes.Equal(out, pkb) {
			t.Fatal("public key does not round-trip")
		}
		if _, ss, err := s.Encapsulate(pk); err != nil || len(ss) != 32 {
			t.Fatalf("encapsulation to a parsed key: %v", err)
		}
	})
}

func stretch(data []byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = data[i%len(data)]
	}
	return out
}
