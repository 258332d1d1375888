package client

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Vault encrypts what a Store keeps at rest: every secret or personal value is sealed with
// XChaCha20-Poly1305 under a key from the identity, bound to what it is (a label such as
// "friend") and to the row it sits in; a lookup column (a fingerprint, a name, a message ID)
// holds a keyed hash instead of the value.
//
//	sealed  = nonce [24] || XChaCha20-Poly1305(enc_key, nonce, value, ad = label || 0x00 || row)
//	hash    = HMAC-SHA256(hash_key, label || 0x00 || value)
//	enc_key = HKDF-SHA256(history_key, info = "echorelay-history-v1/enc")
//	hash_key= HKDF-SHA256(history_key, info = "echorelay-history-v1/hash")
type Vault struct {
	enc     [32]byte
	hashKey [32]byte
}

// NewVault derives the vault's keys from a 32-byte history key (seal.Identity.HistoryKey).
func NewVault(historyKey [32]byte) *Vault {
	v := &Vault{}
	for _, k := range []struct {
		dst  *[32]byte
		info string
	}{{&v.enc, "echorelay-history-v1/enc"}, {&v.hashKey, "echorelay-history-v1/hash"}} {
		b, err := hkdf.Key(sha256.New, historyKey[:], nil, k.info, 32)
		if err != nil {
			panic(err) // unreachable: 32 bytes is far below HKDF's limit
		}
		copy(k.dst[:], b)
	}
	return v
}

func ad(label string, row []byte) []byte {
	return append(append([]byte(label), 0), row...)
}

// Seal encrypts value for the row row of the kind label.
func (v *Vault) Seal(label string, row, value []byte) []byte {
	aead, _ := chacha20poly1305.NewX(v.enc[:])
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(value)+chacha20poly1305.Overhead)
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return aead.Seal(nonce, nonce, value, ad(label, row))
}

// Open decrypts what Seal made for the same label and row.
func (v *Vault) Open(label string, row, sealed []byte) ([]byte, error) {
	aead, _ := chacha20poly1305.NewX(v.enc[:])
	if len(sealed) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrCorrupt, label, len(sealed))
	}
	pt, err := aead.Open(nil, sealed[:chacha20poly1305.NonceSizeX], sealed[chacha20poly1305.NonceSizeX:], ad(label, row))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, label)
	}
	return pt, nil
}

// Hash is the keyed hash of a lookup value of the kind label.
func (v *Vault) Hash(label string, value []byte) []byte {
	m := hmac.New(sha256.New, v.hashKey[:])
	m.Write(ad(label, value))
	return m.Sum(nil)
}
