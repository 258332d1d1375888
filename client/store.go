package client

import (
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

// Store is the client's history: friends, invites, cursors, the seen set, messages, file
// chunks waiting for their siblings, and the outbox. Implementations: MemStore (tests, the
// browser until it has IndexedDB) and client/home's SQLite file, which encrypts every secret or
// personal value at rest (Vault). A Store is used by one Client, which serialises its calls.
type Store interface {
	Friends() ([]*Friend, error)
	// PutFriend inserts or replaces the friend with f's fingerprint; ErrNameTaken when
	// another friend has f.Name.
	PutFriend(f *Friend) error
	RemoveFriend(fp seal.Fingerprint) error

	Invites() ([]*InviteRecord, error)
	PutInvite(r *InviteRecord) error // insert or replace by secret
	DropInvite(secret [seal.InviteSecretSize]byte) error

	Cursor(relay, scope string) (uint64, error)
	SetCursor(relay, scope string, cursor uint64) error

	// MarkSeen records message msg of sender, which came in blob, unless it is known:
	// SeenSameBlob when it came in the same blob before, SeenReplay in another one.
	MarkSeen(sender seal.Fingerprint, msg seal.MessageID, blob [32]byte, at time.Time) (Seen, error)
	// PruneSeen forgets entries recorded before before, and the oldest beyond max rows.
	PruneSeen(before time.Time, max int) error

	AddMessage(m *Message) error
	// Messages returns the last messages with friend (nil: everybody), oldest first.
	Messages(friend *seal.Fingerprint, last int) ([]*Message, error)

	// AddChunk stores a chunk of sender's file and returns how many chunks of that file with
	// the same count and size it holds now.
	AddChunk(sender seal.Fingerprint, c seal.FileChunk, at time.Time) (int, error)
	// TakeChunks returns the data of the chunks of sender's file with c's ID, count and size,
	// in index order, and forgets them.
	TakeChunks(sender seal.Fingerprint, c seal.FileChunk) ([][]byte, error)

	// Session returns the ratchet session with a friend, nil when there is none.
	Session(friend seal.Fingerprint) (*SessionRecord, error)
	PutSession(r *SessionRecord) error // insert or replace by friend
	// RemoveFriend also forgets the friend's session.

	// GroupStates returns the kept group states (client/group's MarshalState), in no order;
	// PutGroupState inserts or replaces the state of the group with id.
	GroupStates() ([][]byte, error)
	PutGroupState(id [16]byte, state []byte) error

	AddOutbox(es []*OutboxEntry) error // sets each entry's ID
	Outbox() ([]*OutboxEntry, error)   // oldest first
	UpdateOutbox(e *OutboxEntry) error // Tries, LastErr, LastTry
	DropOutbox(id int64) error

	Close() error
}

// Seen is what MarkSeen found.
type Seen uint8

// MarkSeen's answers.
const (
	SeenNew      Seen = iota // first time: recorded
	SeenSameBlob             // the same blob again (a re-read, or watch then inbox)
	SeenReplay               // the same message in another blob
)

// Friend is one friend's record.
type Friend struct {
	Name   string
	Bundle *seal.Bundle
	Pair   []byte // the pair secret of the invite, for the mailbox tags
	// TheirRelay is where I send to them (their relay); MyRelay is where they send to me,
	// the relay whose address I gave them, where I read their tags. The fingerprints are
	// the relays' TLS key fingerprints (hex), "" until known.
	TheirRelay, TheirRelayFP string
	MyRelay, MyRelayFP       string
	Added                    time.Time
	Blocked                  bool // their blobs are dropped silently
}

// Fingerprint is the friend's identity fingerprint.
func (f *Friend) Fingerprint() seal.Fingerprint { return f.Bundle.Fingerprint() }

// InviteState is where an invite of mine stands.
type InviteState uint8

// Invite states: pending until the first valid answer, then used until it expires (kept to
// recognise a second answer).
const (
	InvitePending InviteState = iota
	InviteUsed
)

// InviteRecord is an invite I made.
type InviteRecord struct {
	Invite           seal.Invite
	RelayFP          string // the relay's fingerprint at invite time (hex)
	Name             string // what to call the friend, "" for the nickname they suggest
	Created, Expires time.Time
	State            InviteState
	Acceptor         seal.Fingerprint // InviteUsed: whose answer was taken
	Group            [16]byte         // a group invite: the acceptor joins this group (groups.go)
}

// Message is one message of the history.
type Message struct {
	Friend seal.Fingerprint
	Out    bool // sent by me
	Time   time.Time
	Kind   string // "text", "file"
	Body   []byte // the text; for a file its name (out) or where it was saved (in)
	// From: for a group message, its sender (zero when Out); Friend is then the group's
	// conversation ID (groups.go, groupConversation).
	From seal.Fingerprint
}

// OutboxEntry is one sealed envelope waiting for its relay.
type OutboxEntry struct {
	ID       int64
	Group    [16]byte // the send it belongs to (a text, or all chunks of a file)
	To       seal.Fingerprint
	Relay    string
	Created  time.Time
	What     string // "text" or "file NAME"
	Envelope []byte // marshalled, without a stamp (stamped per relay when put)
	Tries    int
	LastErr  string
	LastTry  time.Time
}
