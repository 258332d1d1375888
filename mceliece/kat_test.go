package mceliece

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

// katVector is one line of testdata/kat-digests.txt.
type katVector struct {
	name, single, all10, pkDigest, skDigest, ss string
}

func loadKATVectors(t *testing.T) []katVector {
	t.Helper()
	f, err := os.Open("testdata/kat-digests.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []katVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 6 {
			t.Fatalf("bad KAT line %q", line)
		}
		out = append(out, katVector{fs[0], fs[1], fs[2], fs[3], fs[4], fs[5]})
	}
	if len(out) == 0 {
		t.Fatal("no KAT vectors found")
	}
	return out
}

// katEntry is one entry of the NIST KAT transcript.
type katEntry struct {
	seed, pk, sk, ct, ss []byte
}

func (e katEntry) text(i int) string {
	return fmt.Sprintf("count = %d\nseed = %X\npk = %X\nsk = %X\nct = %X\nss = %X\n", i, e.seed, e.pk, e.sk, e.ct, e.ss)
}

// katTranscript regenerates entries 0..count-1 of the reference KAT for s.
func katTranscript(t *testing.T, s *Scheme, count int) []katEntry {
	t.Helper()
	var masterSeed [48]byte
	for i := range masterSeed {
		masterSeed[i] = byte(i)
	}
	master := newCTRDRBG(masterSeed[:])
	seeds := make([][]byte, count)
	for i := range seeds {
		seeds[i] = make([]byte, 48)
		master.Read(seeds[i])
	}
	out := make([]katEntry, count)
	for i, seed := range seeds {
		d := newCTRDRBG(seed)
		pk, sk, err := s.GenerateKeyPairFrom(d)
		if err != nil {
			t.Fatal(err)
		}
		ct, ss, err := s.EncapsulateFrom(pk, d)
		if err != nil {
			t.Fatal(err)
		}
		ss2, err := s.Decapsulate(sk, ct)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ss, ss2) {
			t.Errorf("%s entry %d: decapsulation gives %X, encapsulation %X", s.Name(), i, ss2, ss)
		}
		pkb, _ := pk.MarshalBinary()
		skb, _ := sk.MarshalBinary()
		out[i] = katEntry{seed, pkb, skb, ct, ss}
	}
	return out
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// diagnose reports which field of entry 0 diverged from the published digests.
func diagnose(t *testing.T, v katVector, e katEntry) {
	t.Helper()
	if got := sha256hex(e.pk); got != v.pkDigest {
		t.Errorf("%s entry 0: sha256(pk) = %s, want %s", v.name, got, v.pkDigest)
	}
	if got := sha256hex(e.sk); got != v.skDigest {
		t.Errorf("%s entry 0: sha256(sk) = %s, want %s", v.name, got, v.skDigest)
	}
	if got := fmt.Sprintf("%X", e.ss); got != v.ss {
		t.Errorf("%s entry 0: ss = %s, want %s", v.name, got, v.ss)
	}
}

// TestKATSingle checks the SHA-256 of KAT entry 0 for all ten parameter sets.
func TestKATSingle(t *testing.T) {
	for _, v := range loadKATVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			s := ByName(v.name).(*Scheme)
			if testing.Short() && s.p.n > 3488 && !strings.HasSuffix(v.name, "f") {
				t.Skip("non-f large sets are slow; skipped with -short")
			}
			e := katTranscript(t, s, 1)
			if got := sha256hex([]byte(e[0].text(0))); got != v.single {
				diagnose(t, v, e[0])
				t.Fatalf("single digest %s, want %s", got, v.single)
			}
		})
	}
}

// TestKATAll10 checks the digest of the full ten-entry transcript for 348864f and
// 6688128f (and, without -short, 348864). MCELIECE_KAT_ALL10=1 checks all ten sets
// (several minutes).
func TestKATAll10(t *testing.T) {
	want := map[string]bool{"mceliece348864f": true, "mceliece6688128f": true}
	if !testing.Short() {
		want["mceliece348864"] = true
	}
	every := os.Getenv("MCELIECE_KAT_ALL10") == "1"
	for _, v := range loadKATVectors(t) {
		if !want[v.name] && !every {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			if testing.Short() && v.name == "mceliece6688128f" {
				t.Skip("large set skipped with -short")
			}
			s := ByName(v.name).(*Scheme)
			es := katTranscript(t, s, 10)
			parts := make([]string, len(es))
			for i, e := range es {
				parts[i] = e.text(i)
			}
			if got := sha256hex([]byte(strings.Join(parts, "\n"))); got != v.all10 {
				diagnose(t, v, es[0])
				t.Fatalf("all10 digest %s, want %s", got, v.all10)
			}
		})
	}
}
