// Package mceliece is a pure-Go implementation of the Classic McEliece key-encapsulation
// mechanism as submitted to round 4 of the NIST process ("mceliece-20221023"), with all ten
// parameter sets: mceliece348864, 348864f, 460896, 460896f, 6688128, 6688128f, 6960119,
// 6960119f, 8192128 and 8192128f. Public keys, secret keys (including the reference's
// Beneš-network control bits), ciphertexts and shared keys are byte-for-byte those of the
// reference implementation; the tests regenerate the NIST known-answer transcripts.
//
// Who calls it: package mceliece/hybrid combines it with ML-KEM and X25519. Every
// parameter set is a github.com/cloudflare/circl/kem.Scheme:
//
//	s := mceliece.ByName("mceliece6688128f") // nil for an unknown name
//	pk, sk, err := s.GenerateKeyPair()
//	ct, ss, err := s.Encapsulate(pk)
//	ss2, err := s.Decapsulate(sk, ct)
//
// All returns the ten schemes. The concrete type *Scheme adds GenerateKeyPairFrom and
// EncapsulateFrom, which read their randomness from an io.Reader in exactly the requests
// the reference makes of randombytes (the known-answer test drives them with the NIST
// CTR_DRBG):
//
//   - key generation reads the 32-byte seed δ with one io.ReadFull; DeriveKeyPair(seed)
//     uses its 32-byte seed as δ directly, so DeriveKeyPair(δ) equals the reference key
//     generation after randombytes returned δ. Everything else comes from
//     SHAKE256(64 ‖ δ), retrying with the next δ as the specification says;
//   - encapsulation makes one io.ReadFull of 4t bytes per attempt at the weight-t error
//     vector (2t bytes for mceliece8192128*). EncapsulateDeterministically(pk, seed) runs
//     EncapsulateFrom on the SHAKE256 output stream of its 32-byte seed.
//
// Formats (t, n, m per set; see params.go):
//
//	public key  T, m·t rows of ceil((n-m·t)/8) bytes, little-endian bit order
//	secret key  δ(32) ‖ c(8, little-endian; 2^32-1 for non-f sets) ‖ g(2t, little-endian
//	            uint16 coefficients) ‖ Beneš control bits ((2m-1)·2^(m-4)) ‖ s(n/8)
//	ciphertext  the syndrome C = He, ceil(m·t/8) bytes
//	shared key  SHAKE256(1 ‖ e ‖ C) on success, SHAKE256(0 ‖ s ‖ C) otherwise, 32 bytes
//
// Errors: wrong sizes give kem.ErrPubKeySize, kem.ErrPrivKeySize, kem.ErrCiphertextSize
// or kem.ErrSeedSize, keys of another scheme kem.ErrTypeMismatch. DeriveKeyPair panics
// with kem.ErrSeedSize for a seed that is not 32 bytes, as the kem.Scheme interface
// specifies; nothing else panics on bad input. A ciphertext that fails to decode is not an
// error (implicit rejection). mceliece6960119* has 5413-bit public-key rows and 1547-bit
// ciphertexts: as in the reference, a ciphertext with nonzero padding bits decapsulates
// to 32 bytes of 0xFF, reported with ErrCiphertextPadding, and a public key with nonzero
// row padding is refused by UnmarshalBinaryPublicKey with kem.ErrPubKey.
//
// Schemes and keys are safe for concurrent use. Public keys keep an unpacked copy of T in
// 64-bit words beside the wire bytes (about twice the key size on the heap); a secret key
// computes its Beneš masks and decoder weights (about 32 KB) on its first Decapsulate and
// keeps them.
//
// What it deliberately does not do: no plaintext-confirmation ("pc") variants and no
// round-3 formats; no validation of secret keys beyond their size (a secret key parsed
// from bytes recomputes its public key from δ only when Public is called). It must only
// be used inside a hybrid with ML-KEM and X25519 and an algorithm identifier on the wire:
// the 2026 cryptanalysis (ePrint 2026/1630 and follow-ups) lowers its security estimates.
//
// # Constant time
//
// Decapsulation has no branch, loop bound, table index or memory address that depends on
// the secret key or on the ciphertext: field arithmetic is shifts, ANDs and XORs; the
// support comes from the control bits through a masked bit-vector Beneš network; g and the
// error locator are evaluated at every field element by a bitsliced additive FFT whose
// constants are public; syndromes come from the transposed FFT; Berlekamp–Massey runs a
// fixed number of steps with masked updates; the success test and the choice between e
// and s are masks. Key generation is data-oblivious too, apart from the specification's
// public rejections (Goppa polynomial of low degree, repeated field-ordering words,
// non-systematic matrix, rank-deficient pivot window): its Gaussian eliminations add rows
// under masks on 64-bit words, the field ordering is sorted by a fixed sorting network,
// and the control-bit computation composes permutations by sorting as well, never by
// writing to secret addresses. Encapsulation branches only on its rejection-sampling
// retries, which reveal nothing about the final error vector; the error vector is built
// with masks.
//
// What Go cannot promise: the compiler gives no constant-time guarantee, so the masks above
// are only as good as the generated code, which no tool here checks; variable shifts are
// assumed constant-time (they are on amd64, arm64 and ARMv6 and later); bits.OnesCount64
// is POPCNT or a branch-free routine; the runtime may preempt or move goroutines at any
// point; and the garbage collector may copy secret values and never zeroes freed memory,
// so secrets are not wiped.
package mceliece
