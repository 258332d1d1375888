package group

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/echorelay/echorelay/echo/seal"
)

// Test members have real long-term signature keys (Ed25519 and ML-DSA-65, as in a bundle),
// derived from their fingerprints so that vectors stay fixed; no McEliece key is needed.
type testKey struct {
	keys SigKeys
	ed   ed25519.PrivateKey
	dsa  *mldsa65.PrivateKey
}

var testKeyCache sync.Map // Fingerprint → *testKey

func testKeyOf(fp Fingerprint) *testKey {
	if k, ok := testKeyCache.Load(fp); ok {
		return k.(*testKey)
	}
	edSeed := sha256.Sum256(append([]byte("test ed25519 "), fp[:]...))
	dsaSeed := testDSASeed(fp)
	k := &testKey{ed: ed25519.NewKeyFromSeed(edSeed[:])}
	pk, sk := mldsa65.NewKeyFromSeed(&dsaSeed)
	k.dsa = sk
	copy(k.keys[:], k.ed.Public().(ed25519.PublicKey))
	copy(k.keys[ed25519.PublicKeySize:], pk.Bytes())
	v, _ := testKeyCache.LoadOrStore(fp, k)
	return v.(*testKey)
}

func testDSASeed(fp Fingerprint) [32]byte {
	return sha256.Sum256(append([]byte("test mldsa65 "), fp[:]...))
}

// testKeys are fp's signature keys.
func testKeys(fp Fingerprint) SigKeys { return testKeyOf(fp).keys }

// testSigner signs as seal.Identity.Sign does (both signatures over the message), with the
// deterministic ML-DSA mode so that vectors are reproducible.
func testSigner(fp Fingerprint) Signer {
	k := testKeyOf(fp)
	return func(msg []byte) []byte {
		out := make([]byte, seal.SignaturesSize)
		copy(out, ed25519.Sign(k.ed, msg))
		if err := mldsa65.SignTo(k.dsa, msg, nil, false, out[ed25519.SignatureSize:]); err != nil {
			panic(err)
		}
		return out
	}
}

// testCfg is a member's Config with its keys.
func testCfg(fp Fingerprint) Config {
	return Config{Self: fp, Keys: testKeys(fp), Sign: testSigner(fp)}
}

// testKeyHash is what a commit names fp's keys by.
func testKeyHash(fp Fingerprint) [32]byte { return KeyHash(testKeys(fp)) }
