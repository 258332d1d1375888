package client

import (
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// Event is something Receive or Watch found for the user. The concrete types below are the
// whole set; a caller switches on them.
type Event interface {
	// When orders events: the sender's time for messages, the local time otherwise.
	When() time.Time
}

// MessageEvent: a text from a friend.
type MessageEvent struct {
	From string // the friend's name
	Time time.Time
	ID   seal.MessageID
	Text string // as sent: the caller neutralises it for a terminal
}

// FileEvent: a file from a friend, complete and saved.
type FileEvent struct {
	From  string
	Time  time.Time
	Name  string // as sent (seal.SafeName); saved under SafeFileName(Name)
	Size  uint64
	Where string // FileSink's answer, "" without a sink
}

// FileShortEvent: all chunks of a file arrived but their data is not the size the chunks
// announce; the file is discarded.
type FileShortEvent struct {
	From      string
	Time      time.Time
	Name      string
	Got, Want uint64
}

// UnknownTypeEvent: a valid message of a content type this version cannot show.
type UnknownTypeEvent struct {
	From string
	Time time.Time
	Type seal.ContentType
}

// FriendAddedEvent: an answer to my invite made a new friend.
type FriendAddedEvent struct {
	Name         string
	SafetyNumber string
	At           time.Time
}

// InviteAnsweredTwiceEvent: after the first valid answer to my invite for Name, somebody
// else also answered it validly (the code leaked, or was given to two people).
type InviteAnsweredTwiceEvent struct {
	Name string
	At   time.Time
}

// InviteExpiredEvent: an invite expired unanswered and was forgotten.
type InviteExpiredEvent struct {
	Created time.Time
	Name    string
	At      time.Time
}

// RejectedEvent: a blob under a friend's tag (or an invite's) that breaks a receiver rule
// of PROTOCOL.md section 7.3; it is not shown.
type RejectedEvent struct {
	Blob    echo.ID
	Mailbox string // the friend whose tag it came under; "" for an invite answer
	Reason  RejectReason
	Detail  string // for the reasons that have one (which sender, what is malformed)
	At      time.Time
}

// OutboxSentEvent: envelopes waiting in the outbox reached their relay.
type OutboxSentEvent struct {
	To    string
	What  string
	Count int
	At    time.Time
}

// OutboxDroppedEvent: a relay refused an outbox envelope for good (too large, expired); it
// was removed from the outbox.
type OutboxDroppedEvent struct {
	To   string
	What string
	Err  error
	At   time.Time
}

// GapEvent: the number of a friend's messages that the session knows were sent but that did
// not arrive (yet) changed (PROTOCOL.md 7.8.5); 0 when the last of them arrived or expired.
type GapEvent struct {
	From    string
	Missing int
	At      time.Time
}

func (e GapEvent) String() string {
	switch e.Missing {
	case 0:
		return "echorelay: no message from " + e.From + " is missing any more"
	case 1:
		return "echorelay: 1 message from " + e.From + " did not arrive (yet)"
	}
	return fmt.Sprintf("echorelay: %d messages from %s did not arrive (yet)", e.Missing, e.From)
}

// ResetReason says why a session was started again.
type ResetReason uint8

// Reset reasons.
const (
	// ResetFriendWentBack: the friend sent from a state their side had already left (a
	// restored backup); I started a new session through the long-term keys.
	ResetFriendWentBack ResetReason = iota + 1
	// ResetByFriend: the friend started a new session while one existed (they lost theirs,
	// or found mine went back).
	ResetByFriend
	// ResetNoticed: I started a session, and the friend says they had another one with me:
	// my side lost its state (a lost or restored history).
	ResetNoticed
)

// SessionResetEvent: the ratchet session with a friend was re-established through the
// long-term keys. Messages in flight on the old session may not open.
type SessionResetEvent struct {
	From   string
	Reason ResetReason
	At     time.Time
}

func (e SessionResetEvent) String() string {
	switch e.Reason {
	case ResetFriendWentBack:
		return "echorelay: " + e.From + "'s side of the conversation went back (restored from a backup?); a new session was started with their long-term keys"
	case ResetNoticed:
		return "echorelay: " + e.From + " had a session with you that your side no longer has (your history was lost or restored); the new one was taken up"
	}
	return "echorelay: " + e.From + " started a new session (a side lost its state); re-established with the long-term keys"
}

// ControlEvent: a control payload from a friend (PROTOCOL.md 7.4 type 16), for another part
// of the client such as groups; it is not kept in the history. Ratchet says whether it came
// over the ratchet session (else sealed to the long-term keys, at a session's start).
type ControlEvent struct {
	From    string
	Friend  seal.Fingerprint
	Time    time.Time
	Type    uint8
	Payload []byte
	Ratchet bool
}

func (e ControlEvent) String() string {
	return fmt.Sprintf("echorelay: a control message (type %d, %d bytes) from %s", e.Type, len(e.Payload), e.From)
}

func (e MessageEvent) When() time.Time             { return e.Time }
func (e GapEvent) When() time.Time                 { return e.At }
func (e SessionResetEvent) When() time.Time        { return e.At }
func (e ControlEvent) When() time.Time             { return e.Time }
func (e FileEvent) When() time.Time                { return e.Time }
func (e FileShortEvent) When() time.Time           { return e.Time }
func (e UnknownTypeEvent) When() time.Time         { return e.Time }
func (e FriendAddedEvent) When() time.Time         { return e.At }
func (e InviteAnsweredTwiceEvent) When() time.Time { return e.At }
func (e InviteExpiredEvent) When() time.Time       { return e.At }
func (e RejectedEvent) When() time.Time            { return e.At }
func (e OutboxSentEvent) When() time.Time          { return e.At }
func (e OutboxDroppedEvent) When() time.Time       { return e.At }

// RejectReason says which receiver rule a blob broke.
type RejectReason uint8

// Reject reasons.
const (
	RejectMalformed        RejectReason = iota + 1 // not an envelope or not a sealed payload
	RejectNotForMe                                 // the AEAD fails: tampered, or sealed to someone else
	RejectTampered                                 // decrypts but layout or signature is wrong
	RejectMisaddressed                             // signed for another recipient, re-sealed to me
	RejectUnknownSender                            // signed by somebody who is not a friend
	RejectWrongSender                              // signed by a friend other than the tag's owner
	RejectReplay                                   // a message ID already received, in another blob
	RejectTime                                     // sent time outside the window
	RejectBadChunk                                 // a file chunk that does not parse
	RejectUnknownAlgorithm                         // a KEM this build does not know
	RejectAlreadyFriend                            // an invite answer from an existing friend
	RejectDowngrade                                // an old-format message dated after the session began
)

var reasonText = map[RejectReason]string{
	RejectMalformed:        "malformed",
	RejectNotForMe:         "tampered or sealed to someone else (it does not authenticate)",
	RejectTampered:         "tampered",
	RejectMisaddressed:     "misaddressed: signed for another recipient and re-sealed to you",
	RejectUnknownSender:    "from an unknown sender",
	RejectWrongSender:      "misaddressed: signed by a friend other than the mailbox's owner",
	RejectReplay:           "replay of a message already received",
	RejectTime:             "sent at a time outside the accepted window (check the clocks)",
	RejectBadChunk:         "bad file chunk",
	RejectUnknownAlgorithm: "sealed with an algorithm this version does not know",
	RejectAlreadyFriend:    "from somebody who is already your friend",
	RejectDowngrade:        "sealed the old way although a ratchet session exists (a downgrade)",
}

// String is the reason in words.
func (r RejectReason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return "rejected"
}
