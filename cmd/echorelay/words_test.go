package main

import (
	"strings"
	"testing"

	"github.com/echorelay/echorelay/internal/admin"
)

// One blob is "1 blob", in the terminal and on the page (issue #18 item 15).
func TestOneBlobIsSingular(t *testing.T) {
	var r admin.Status
	r.Cache.Blobs, r.Cache.MaxBytes = 1, 1<<30
	var b strings.Builder
	admin.WriteText(&b, &r, false)
	if out := b.String(); !strings.Contains(out, "· 1 blob\n") {
		t.Fatalf("status with one blob:\n%s", out)
	}
	r.Cache.Blobs = 2
	b.Reset()
	admin.WriteText(&b, &r, false)
	if out := b.String(); !strings.Contains(out, "· 2 blobs\n") {
		t.Fatalf("status with two blobs:\n%s", out)
	}
}

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
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := safeFileName("invoice\u202Efdp.exe"); got != "invoice_fdp.exe" {
		t.Errorf("safeFileName = %q", got)
	}
	for _, bad := range []string{"sam\u202E", "a\x07b", "\u2066x"} {
		if checkName(bad, false) == nil {
			t.Errorf("checkName(%q) accepted a name with hidden characters", bad)
		}
	}
	if err := checkName("zoë", false); err != nil {
		t.Errorf("checkName(zoë): %v", err)
	}
}
