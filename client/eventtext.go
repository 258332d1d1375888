package client

import (
	"fmt"
	"strings"
	"time"
)

// The events' texts, as the CLI prints them: a friend's message or file on one line with its
// time and sender, notices in the CLI's voice ("echorelay: …"). Every name, text and file name
// from a friend goes through Printable. The web client draws its own.

// Printable keeps a friend's text from driving a terminal or disguising itself: control
// characters other than newline and tab, and format characters (Hidden: bidi overrides and
// isolates such as U+202E, invisible separators) become U+FFFD.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !Hidden(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// IsNotice reports whether ev is a notice about the client's own state (for standard error)
// rather than something a friend sent.
func IsNotice(ev Event) bool {
	switch ev.(type) {
	case MessageEvent, FileEvent, FileShortEvent, UnknownTypeEvent, FriendAddedEvent, GroupMessageEvent, GroupFileEvent:
		return false
	}
	return true
}

func stamp(t time.Time, from string) string {
	return "[" + t.Local().Format("2006-01-02 15:04:05") + "] " + Printable(from) + ": "
}

func (e MessageEvent) String() string { return stamp(e.Time, e.From) + Printable(e.Text) }

func (e FileEvent) String() string {
	return fmt.Sprintf("%sfile %s (%d bytes) saved to %s", stamp(e.Time, e.From), Printable(e.Name), e.Size, Printable(e.Where))
}

func (e FileShortEvent) String() string {
	return fmt.Sprintf("%sfile %s arrived with %d of %d bytes; discarded", stamp(e.Time, e.From), Printable(e.Name), e.Got, e.Want)
}

func (e UnknownTypeEvent) String() string {
	return fmt.Sprintf("%s(a message of type %d, which this version cannot show)", stamp(e.Time, e.From), e.Type)
}

func (e FriendAddedEvent) String() string {
	return fmt.Sprintf("friend added: %s accepted your invite; safety number %s", Printable(e.Name), e.SafetyNumber)
}

func (e InviteAnsweredTwiceEvent) String() string {
	who := e.Name
	if who == "" {
		who = "a friend"
	}
	return "echorelay: someone else also answered your invite for " + Printable(who) + "; the code leaked: compare safety numbers with " + Printable(who)
}

func (e InviteExpiredEvent) String() string {
	return fmt.Sprintf("echorelay: an invite made on %s expired unanswered", e.Created.Local().Format("2006-01-02"))
}

func (e RejectedEvent) String() string {
	where := " (invite answer)"
	if e.Mailbox != "" {
		where = " in " + Printable(e.Mailbox) + "'s mailbox"
	}
	reason := e.Reason.String()
	if e.Detail != "" && e.Reason != RejectNotForMe {
		reason += ": " + Printable(e.Detail)
	}
	return fmt.Sprintf("echorelay: rejected blob %s%s: %s", e.Blob.Short(), where, reason)
}

func (e OutboxSentEvent) String() string {
	return fmt.Sprintf("echorelay: sent from the outbox to %s: %s", Printable(e.To), Printable(e.What))
}

func (e OutboxDroppedEvent) String() string {
	return fmt.Sprintf("echorelay: the relay refused %s to %s for good, removed from the outbox: %s", Printable(e.What), Printable(e.To), e.Err)
}
