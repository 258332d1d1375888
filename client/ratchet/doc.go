// Package ratchet is the post-quantum double ratchet of echorelay's pairwise conversations
// (PROTOCOL.md section 7.8): the double ratchet with header encryption of Signal's
// specification (symmetric chains, an X25519 DH ratchet, encrypted headers), and beside it a
// KEM ratchet over ML-KEM-768 in the style of Signal's SPQR: one side's encapsulation key and
// then the other side's ciphertext travel in chunks of at most 296 bytes inside ordinary
// messages, and each completed shared secret is mixed into the root key at the next DH
// ratchet step. A short text stays within one 768-byte padding bucket (a 940-byte envelope)
// whether or not it carries a chunk.
//
// Who calls it: package client, which starts a Session from a secret it sent (or received)
// in a message sealed to the friend's long-term keys and signed with them (session start is
// authenticated with Ed25519 + ML-DSA-65), stores the Session's Marshal output encrypted in
// its history, and derives its mailbox tags from Session.SendTag and Session.ReceiveTags.
//
// What it does not do: any I/O, clocks (every call takes now), signatures (messages are
// authenticated by the AEAD only, so a transcript is deniable), or decide when a session is
// reset; it reports ErrDuplicate and ErrStale and the caller decides.
//
// A Session is not safe for concurrent use. Open works on a copy and commits only when the
// message authenticated and parsed, so a forged or damaged payload changes nothing.
//
// The KEM ratchet, one epoch (owner: the side that makes the key pair of the epoch; the
// sides alternate, the first sender owns epoch 1):
//
//	owner                                     peer
//	  make (ek, dk) ──ek chunks (round robin)──▶ collect; when whole: encapsulate (ct, ss)
//	  collect ◀──────ct chunks (round robin)──── keep ss until the owner's mix arrives
//	  when whole: ss = decapsulate(ct)
//	  next DH step: root ← KDF(root, dh || ss)  (the header says kem_epoch = e)
//	  epoch e+1: peer owns ─────────────────────▶ header kem_epoch = e: mix ss, own epoch e+1
package ratchet
