// Package hybrid is the key encapsulation the echorelay envelope uses: Classic
// McEliece, ML-KEM-768 and X25519 run side by side and their outputs are
// combined with SHA3-256 into one 32-byte secret. The secret stays safe while
// any one of the three holds. The construction, its reasoning and its
// references are written down in HYBRID.md next to this file; this comment is
// the summary.
//
// Each hybrid is a github.com/cloudflare/circl/kem.Scheme with a stable
// 16-bit algorithm identifier that the envelope writes before the
// ciphertext (Scheme.ID, IDOf, ByID). The default is
// mceliece6688128f-mlkem768-x25519, identifier 0x0101 (DefaultID); every other
// McEliece parameter set of package mceliece has its own identifier.
//
// Encodings (sizes for the default in brackets):
//
//	public key  = mc_pk ‖ mlkem768_pk (1184) ‖ x25519_pk (32)          [1046208]
//	private key = mc_sk ‖ mlkem768_seed (64) ‖ x25519_sk (32) ‖ H(mc_pk) (32)  [14060]
//	ciphertext  = mc_ct ‖ mlkem768_ct (1088) ‖ x25519_ephemeral_pk (32) [1328]
//	secret      = SHA3-256(label ‖ ss_mc ‖ ss_mlkem ‖ ss_x ‖ ct_mc ‖ ct_mlkem ‖ ct_x ‖
//	                       H(pk_mc) ‖ H(pk_mlkem) ‖ H(pk_x))          [32]
//
// with H = SHA3-256 and label = "echorelay-hybrid-v1/0101/mceliece6688128f+mlkem768+x25519"
// for the default. Unlike X-Wing, every ciphertext is hashed, McEliece's
// included. The McEliece public key (a megabyte) is hashed once, when it is
// parsed or generated; the private key stores that hash because recomputing
// the McEliece public key costs a full key generation.
//
// Decapsulation rejects implicitly: any ciphertext of the right size gives 32
// bytes and no error. Wrong sizes give errors wrapping circl's kem.Err*
// sentinels; nothing here panics on input from the wire. DeriveKeyPair panics
// on a wrong seed size, as the kem.Scheme contract says.
//
// The package does not encrypt (the envelope adds the AEAD), store keys,
// negotiate algorithms, or erase secrets from memory.
package hybrid
