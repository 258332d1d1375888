// Package seal is the client side of echorelay messaging: identities, public bundles, safety
// numbers, sealed payloads, rotating mailbox tags, friend invites (bound to the inviter, signed
// and key-confirmed answers, detectable reuse) and the key a client encrypts its history under. PROTOCOL.md section 7
// (beside package echo) is its specification.
//
// Who calls it: cmd/echorelay's id, friend, send and inbox commands. What it deliberately does
// not do: it opens no files or sockets, keeps no history and never decides what a replay is (a
// message ID is returned; the caller's history rejects IDs it has seen). Relays never import it.
//
// Cryptography, in one place:
//
//	KEM        hybrid McEliece + ML-KEM-768 + X25519 (package mceliece/hybrid, id on the wire)
//	signature  Ed25519 and ML-DSA-65 (FIPS 204), both required to verify
//	AEAD       XChaCha20-Poly1305, 24-byte random nonce
//	KDF        HKDF with SHA3-256; mailbox tags are HMAC-SHA256
//	identity   optionally wrapped under Argon2id(passphrase)
package seal
