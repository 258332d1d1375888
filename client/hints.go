package client

import (
	"errors"

	"github.com/echorelay/echorelay/client/group"
)

// Hint says what a person can do about err, one of the client's errors about names, friends,
// invites and groups, in the CLI's words (the convention of internal/hint); "" for others.
// The web client shows its own.
func Hint(err error) string {
	for _, h := range hints {
		if errors.Is(err, h.err) {
			return h.hint
		}
	}
	return ""
}

var hints = []struct {
	err  error
	hint string
}{
	{ErrNoFriend, "see `echorelay friend list`, or add them with `echorelay friend invite`"},
	{ErrNameTaken, "pick another name"},
	{ErrBadName, "use a short name without spaces, slashes or hidden characters, e.g. --name alice"},
	{ErrAlreadyAnswered, "an invite code works once; ask for a new one (if nobody you know answered it, the code leaked)"},
	{ErrUnboundInvite, "ask your friend for a new code made by `echorelay friend invite`"},
	{ErrAlreadyFriend, "nothing to do"},
	{ErrOwnInvite, "give the code to your friend; they accept it"},
	{ErrNoInvite, "check the relay address (--relay) and that the invite is less than 7 days old; a relay linked to the inviter's gets it within seconds"},
	{ErrWrongRelay, "somebody may be in the middle; if the relay's operator changed its key, accept or invite again"},
	{ErrNoGroup, "see `echorelay group list`"},
	{ErrGroupAmbiguous, "name the group by the start of its ID from `echorelay group list`, or pick another name"},
	{ErrGroupExists, "name the group by the start of its ID from `echorelay group list`, or pick another name"},
	{ErrNoMember, "see `echorelay group members GROUP`"},
	{group.ErrNotAdmin, "ask the group's admin"},
	{group.ErrAdminLeave, "the admin's device orders the group's changes; remove the others instead"},
	{group.ErrRemoved, "ask the admin to add you again"},
}
