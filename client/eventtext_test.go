package client

import (
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// Names, messages shown in a terminal and received file names neutralise control and format
// characters (issue #16 item 12): a bidi override cannot reverse what follows it, an escape
// cannot drive the terminal; emoji sequences keep their joiner.
func TestHiddenCharactersNeutralised(t *testing.T) {
	for in, want := range map[string]string{
		"hi\x1b[2Jthere":         "hi\uFFFD[2Jthere",
		"pay \u202Eusd 001":      "pay \uFFFDusd 001",
		"a\u2066b\u2069c\u200Bd": "a\uFFFDb\uFFFDc\uFFFDd",
		"line\nnext\ttab":        "line\nnext\ttab",
		"family 👨\u200D👩\u200D👧": "family 👨\u200D👩\u200D👧",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SafeFileName("invoice\u202Efdp.exe"); got != "invoice_fdp.exe" {
		t.Errorf("SafeFileName = %q", got)
	}
	for _, bad := range []string{"sam\u202E", "a\x07b", "\u2066x"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted a name with hidden characters", bad)
		}
	}
	if err := CheckName("zoë"); err != nil {
		t.Errorf("CheckName(zoë): %v", err)
	}
}

// What a friend sent is content, the rest notices; a text's line carries its time and
// sender, and a friend's text and name cannot drive the terminal from it.
func TestEventTexts(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)
	for _, c := range []struct {
		ev     Event
		notice bool
		want   string
	}{
		{MessageEvent{From: "sam\u202E", Text: "hi\x1b[2J", Time: at}, false, "[2026-12-02 10:00:00] sam\uFFFD: hi\uFFFD[2J"},
		{FileEvent{From: "sam", Name: "a.jpg", Size: 3, Where: "/f/a.jpg", Time: at}, false, "[2026-12-02 10:00:00] sam: file a.jpg (3 bytes) saved to /f/a.jpg"},
		{FileShortEvent{From: "sam", Name: "a.jpg", Got: 1, Want: 3, Time: at}, false, "file a.jpg arrived with 1 of 3 bytes; discarded"},
		{UnknownTypeEvent{From: "sam", Type: 9, Time: at}, false, "(a message of type 9, which this version cannot show)"},
		{FriendAddedEvent{Name: "sam", SafetyNumber: "123"}, false, "friend added: sam accepted your invite; safety number 123"},
		{InviteAnsweredTwiceEvent{}, true, "echorelay: someone else also answered your invite for a friend"},
		{InviteExpiredEvent{Created: at}, true, "echorelay: an invite made on 2026-12-02 expired unanswered"},
		{RejectedEvent{Blob: echo.ID{1}, Mailbox: "sam", Reason: RejectNotForMe, Detail: "x"}, true, "echorelay: rejected blob 01000000"},
		{OutboxSentEvent{To: "sam", What: "a text"}, true, "echorelay: sent from the outbox to sam: a text"},
		{GapEvent{From: "sam", Missing: 2}, true, "echorelay: 2 messages from sam did not arrive (yet)"},
	} {
		if got := c.ev.(interface{ String() string }).String(); !strings.Contains(got, c.want) || IsNotice(c.ev) != c.notice {
			t.Errorf("%T: %q (notice %v), want %q (notice %v)", c.ev, got, IsNotice(c.ev), c.want, c.notice)
		}
	}
}
