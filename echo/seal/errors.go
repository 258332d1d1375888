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
	// ErrInviteVersion: the invite code is of another echorelay version (always wrapped
	// together with ErrInviteCode). A user can ask the inviter for a new code.
	ErrInviteVersion = errors.New("invite code of another version")
	// ErrInviteBlob: the inviter's blob opens under the code but does not verify: its bundle is
	// not the one the code names, or its signature fails. Somebody else who holds the code
	// made or changed it.
	ErrInviteBlob = errors.New("invite does not verify (made or changed by somebody else who holds the code)")
	// ErrInviteAnswer: an invite answer opens under the code but does not verify: a signature,
	// the inviter it names, its layout or the key confirmation fails. Somebody else who holds
	// the code made or changed it.
	ErrInviteAnswer = errors.New("invite answer does not verify (made or changed by somebody else who holds the code)")
)
