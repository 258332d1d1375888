package client

import (
	"fmt"
	"strings"
	"time"

	"github.com/echorelay/echorelay/echo/seal"
)

// GroupMessageEvent: a text in a group. From is the sender as this client knows it: the
// friend's name, else the nick the admin gave it, else its fingerprint's start. Late: it
// came after a later message of its sender (shown in its place, by Time); Gap: how many
// earlier messages of the sender had not arrived when it opened.
type GroupMessageEvent struct {
	Group  string
	From   string
	Sender seal.Fingerprint
	Time   time.Time
	Text   string
	Late   bool
	Gap    uint32
}

func (e GroupMessageEvent) String() string {
	s := stamp(e.Time, e.From+" in "+e.Group) + Printable(e.Text)
	if e.Late {
		s += " (late)"
	}
	if e.Gap > 0 {
		s += fmt.Sprintf(" (%d earlier from %s not arrived yet)", e.Gap, Printable(e.From))
	}
	return s
}

// GroupFileEvent: a file in a group, reassembled (and saved at Where when the client has a
// FileSink).
type GroupFileEvent struct {
	Group, From string
	Sender      seal.Fingerprint
	Time        time.Time
	Name        string
	Size        uint64
	Where       string
}

func (e GroupFileEvent) String() string {
	return fmt.Sprintf("%sfile %s (%d bytes) saved to %s", stamp(e.Time, e.From+" in "+e.Group), Printable(e.Name), e.Size, Printable(e.Where))
}

// GroupChangeEvent: a membership change this client applied (Joined: it was added; Gone: it
// was removed, or left).
type GroupChangeEvent struct {
	Group   string
	At      time.Time
	Epoch   uint32
	Joined  bool
	Gone    bool
	Added   []string // as From of GroupMessageEvent
	Removed []string
}

func (e GroupChangeEvent) String() string {
	g := Printable(e.Group)
	switch {
	case e.Joined:
		return Printable(fmt.Sprintf("echorelay: you are in the group %s, with %s", g, strings.Join(e.Added, ", ")))
	case e.Gone:
		return fmt.Sprintf("echorelay: you are no longer in the group %s", g)
	}
	var parts []string
	if len(e.Added) > 0 {
		parts = append(parts, "added "+strings.Join(e.Added, ", "))
	}
	if len(e.Removed) > 0 {
		parts = append(parts, "removed "+strings.Join(e.Removed, ", "))
	}
	return Printable(fmt.Sprintf("echorelay: group %s: %s", g, strings.Join(parts, "; ")))
}

// GroupRefusedEvent: a group blob or control payload that was refused; Err wraps one of
// client/group's sentinels (ErrTampered, ErrNotMember, ErrFork, …).
type GroupRefusedEvent struct {
	Group string
	At    time.Time
	Err   error
}

func (e GroupRefusedEvent) String() string {
	return fmt.Sprintf("echorelay: group %s: refused: %v", Printable(e.Group), e.Err)
}

func (e GroupMessageEvent) When() time.Time { return e.Time }
func (e GroupFileEvent) When() time.Time    { return e.Time }
func (e GroupChangeEvent) When() time.Time  { return e.At }
func (e GroupRefusedEvent) When() time.Time { return e.At }
