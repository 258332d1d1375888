package group

import "errors"

// Errors of the parsers and of the group state. Each names one expected condition; callers
// test them with errors.Is.
var (
	// ErrMalformed: the bytes do not follow the layouts of PROTOCOL.md section "Groups".
	ErrMalformed = errors.New("malformed group payload")
	// ErrNotForGroup: a blob under the group's tag whose header opens with none of the epoch
	// secrets this member holds (sent before it joined, after it was removed, or garbage).
	ErrNotForGroup = errors.New("blob does not open with this group's keys")
	// ErrTampered: the header opened but the body, its padding or the sender's signature does not
	// verify (changed in transit, or forged by another member).
	ErrTampered = errors.New("group message tampered or forged")
	// ErrNotMember: the sender of a message or a control payload is not a member of the group
	// (in the epoch the message names).
	ErrNotMember = errors.New("not a member of the group")
	// ErrRemovedSender: a message from somebody who was removed from the group (or left) and
	// arrived after this member applied the removal.
	ErrRemovedSender = errors.New("sender was removed from the group")
	// ErrNotAdmin: a commit not sent by the group's admin, or a change that only the admin may
	// make.
	ErrNotAdmin = errors.New("only the group's admin may do this")
	// ErrFork: a commit for the current epoch that differs from the one applied: the admin's
	// device issued the same epoch twice (e.g. restored from a backup). It is refused.
	ErrFork = errors.New("two different commits for the same group epoch")
	// ErrRemoved: this member was removed from the group or left it; it can neither send nor
	// read.
	ErrRemoved = errors.New("you are no longer a member of this group")
	// ErrTooFarAhead: a message more than MaxSkip keys ahead of its chain; opening it would
	// store too many skipped keys.
	ErrTooFarAhead = errors.New("group message too far ahead of its chain")
	// ErrFull: the group already has MaxMembers members.
	ErrFull = errors.New("group is full")
	// ErrUnknownGroup: a control payload or a call names a group this member does not know.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrDeclined: the Accept hook of a Set declined an invitation to a group.
	ErrDeclined = errors.New("group invitation declined")
)

// More conditions of the group state.
var (
	// ErrNoKey: a message waited for its sender's key longer than the pending bounds allow
	// (MaxPendingBlobs, MaxPendingBytes); it stays on the relay and opens when fetched again
	// after the key came.
	ErrNoKey = errors.New("no key for this group message arrived")
	// ErrAdminLeave: the admin cannot leave its group; membership changes need its device.
	ErrAdminLeave = errors.New("the admin cannot leave the group")
	// ErrKeyChange: a commit lists other signature keys for a member than an earlier commit
	// (or than the member's own): a fingerprint names one identity, so the admin's device lies.
	ErrKeyChange = errors.New("a commit changes a member's signature keys")
)
