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
