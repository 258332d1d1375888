package seal

import "errors"

// Errors returned by Open and the parsers. Each names one expected condition.
var (
	// ErrMalformed: the bytes do not follow PROTOCOL.md section 7.
	ErrMalformed = errors.New("malformed")
	// ErrUnknownAlgorithm: the payload or bundle names a KEM this build does not know.
	ErrUnknownAlgorithm = errors.New("unknown algorithm")
	// ErrNotForMe: the AEAD did not authenticate. The payload was sealed to another identity or
	// changed in transit; the two cannot be told apart without the tag's context.
	ErrNotForMe = errors.New("cannot be opened with this identity (sealed to someone else, or tampered)")
	// ErrTampered: the payload decrypted but its inside is inconsistent (padding, layout, a
	// signature that does not verify).
	ErrTampered = errors.New("tampered")
	// ErrMisaddressed: the sender signed the message for another recipient and somebody
	// re-sealed it to us.
	ErrMisaddressed = errors.New("signed for another recipient")
	// ErrUnknownSender: the signer is not among the known bundles.
	ErrUnknownSender = errors.New("unknown sender")
	// ErrPassphrase: the identity file is protected and the passphrase is missing or wrong.
	ErrPassphrase = errors.New("wrong or missing passphrase")
	// ErrInviteCode: the invite code is not one (typo, truncated, wrong checksum).
	ErrInviteCode = errors.New("not a valid invite code")
)
