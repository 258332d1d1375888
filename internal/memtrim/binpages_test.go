//go:build linux

package memtrim

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// probe lives in the binary's writable data segment, which ReleaseBinaryPages must leave
// alone: advising it away would revert the value to the one in the file.
var probe = 7

func rssFileKiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// The idle trim unmaps the read-only pages of the executable: RssFile drops, the program
// keeps running, and writable data keeps what the program wrote to it. Not parallel: it
// measures this process's RSS, which other tests' goroutines would fault back in.
func TestReleaseBinaryPages(t *testing.T) {
	probe = 42
	before := rssFileKiB(t)
	advised := ReleaseBinaryPages()
	after := rssFileKiB(t)
	if advised <= 0 {
		t.Fatalf("advised %d bytes: the executable's read-only mappings were not found", advised)
	}
	if after >= before || before-after < 512 {
		t.Fatalf("RssFile %d kB before, %d kB after releasing %d bytes", before, after, advised)
	}
	if probe != 42 {
		t.Fatalf("a writable segment was released: probe is %d", probe)
	}
	// Code and constants fault back in: formatting and parsing still work.
	if got := strconv.Itoa(probe) + strings.Repeat("!", 2); got != "42!!" {
		t.Fatalf("after release: %q", got)
	}
	t.Logf("RssFile %d kB -> %d kB, %d bytes advised", before, after, advised)
}
