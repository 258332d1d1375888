package client

import "errors"

// Errors, one per expected condition; callers test them with errors.Is.
var (
	// ErrNoFriend: no friend has that name.
	ErrNoFriend = errors.New("no friend called")
	// ErrNameTaken: another friend already has that name.
	ErrNameTaken = errors.New("you already have a friend called")
	// ErrBadName: a friend's name is empty, too long, or holds spaces, slashes or hidden
	// characters.
	ErrBadName = errors.New("bad friend name")
	// ErrAlreadyFriend: the invite is from (or answered by) somebody who is a friend already.
	ErrAlreadyFriend = errors.New("already a friend")
	// ErrOwnInvite: the acceptor holds its own invite.
	ErrOwnInvite = errors.New("this is your own invite")
	// ErrAlreadyAnswered: somebody answered the invite already; invites are single-use.
	ErrAlreadyAnswered = errors.New("this invite was already answered")
	// ErrUnboundInvite: the code does not name its inviter (made by another program), so
	// anyone holding it could swap the inviter's keys unnoticed.
	ErrUnboundInvite = errors.New("this invite code does not name its inviter")
	// ErrNoInvite: no inviter blob for the code reached the relay in time.
	ErrNoInvite = errors.New("no invite for this code reached the relay")
	// ErrBadInvite: the relay holds a blob under the invite's tag that does not open.
	ErrBadInvite = errors.New("the relay holds a blob for this code that does not open")
	// ErrTooLarge: the content does not fit one message (send a file instead) or the relay.
	ErrTooLarge = errors.New("too large")
	// ErrEmpty: nothing to send.
	ErrEmpty = errors.New("nothing to send")
	// ErrRelaySmall: the relay's largest blob cannot hold a sealed message.
	ErrRelaySmall = errors.New("the relay's largest blob is too small for a sealed message")
	// ErrHistoryKey: the history was written under another key (another identity).
	ErrHistoryKey = errors.New("the history does not open with this identity's key")
	// ErrSchemaTooNew: the history was written by a newer version.
	ErrSchemaTooNew = errors.New("the history was written by a newer version of echorelay")
	// ErrCorrupt: a stored value does not authenticate or decode.
	ErrCorrupt = errors.New("a stored value does not authenticate")
	// ErrControlType: control type 0 is the client's own (session notices).
	ErrControlType = errors.New("control type 0 is reserved")
	// ErrNothingToWatch: Watch was called without friends.
	ErrNothingToWatch = errors.New("nobody to watch for")
)
