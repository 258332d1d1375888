package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGroupCLI: a teacher and two pupils who are not friends of each other, through the
// built binary: group new, inbox (the pupils join), send to the group by name, a file, inbox
// showing messages under the group's name, members, list, remove, and leave.
func TestGroupCLI(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "R")
	homes := t.TempDir()
	home := func(n string) string { return filepath.Join(homes, n) }
	for _, n := range []string{"teacher", "sam", "ana"} {
		cli(t, nil, "id", "new", "--kem", "mceliece348864f", "--home", home(n))
	}
	for _, n := range []string{"sam", "ana"} {
		out, _ := cli(t, nil, "friend", "invite", "--home", home("teacher"), "--relay", r.addr(), "--no-qr", "--name", n)
		code := regexp.MustCompile(`invite code: ([A-Z2-7]+)\n`).FindStringSubmatch(out)
		if code == nil {
			t.Fatalf("no code: %q", out)
		}
		cli(t, nil, "friend", "accept", "--home", home(n), code[1], "--name", "teacher")
		cli(t, nil, "inbox", "--home", home("teacher"))
	}
	if out, _ := cli(t, nil, "group", "new", "--home", home("teacher"), "class 5b", "sam", "ana"); !strings.Contains(out, "made the group class 5b with 3 members") {
		t.Fatalf("group new: %q", out)
	}
	for _, n := range []string{"sam", "ana"} {
		if _, errOut := cli(t, nil, "inbox", "--home", home(n)); !strings.Contains(errOut, "you are in the group class 5b") {
			t.Fatalf("%s's inbox after group new: %q", n, errOut)
		}
	}
	if out, _ := cli(t, nil, "send", "--home", home("sam"), "class 5b", "-m", "which page?"); !strings.Contains(out, "sent to the group class 5b") {
		t.Fatalf("send to a group: %q", out)
	}
	doc := filepath.Join(homes, "page42.txt")
	if err := os.WriteFile(doc, []byte(strings.Repeat("page 42\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "send", "--home", home("teacher"), "class 5b", doc)
	out, _ := cli(t, nil, "inbox", "--home", home("ana"))
	if !strings.Contains(out, "sam in class 5b: which page?") || !strings.Contains(out, "teacher in class 5b: file page42.txt (800 bytes)") {
		t.Fatalf("ana's inbox: %q", out)
	}
	out, _ = cli(t, nil, "history", "--home", home("ana"), "class 5b")
	if !strings.Contains(out, "] sam in class 5b: which page?") || !strings.Contains(out, "] teacher in class 5b: file ") {
		t.Fatalf("ana's history of the group: %q", out)
	}
	if out, _ := cli(t, nil, "history", "--home", home("sam")); !strings.Contains(out, "] me in class 5b: which page?") {
		t.Fatalf("sam's history: %q", out)
	}
	if out, _ := cli(t, nil, "group", "members", "--home", home("ana"), "class 5b"); !strings.Contains(out, "\tsam\tnot your friend") ||
		!strings.Contains(out, "\tteacher\tadmin") || !strings.Contains(out, "\tyou") {
		t.Fatalf("members: %q", out)
	}
	if _, errOut, code := runCLI(t, nil, "group", "remove", "--home", home("ana"), "class 5b", "sam"); code != 1 || !strings.Contains(errOut, "only the group's admin") {
		t.Fatalf("a pupil removes: %d %q", code, errOut)
	}
	cli(t, nil, "group", "remove", "--home", home("teacher"), "class 5b", "sam")
	cli(t, nil, "inbox", "--home", home("sam"))
	if out, _ := cli(t, nil, "group", "list", "--home", home("sam")); !strings.Contains(out, "class 5b\t2 members\tadmin teacher\tyou are no longer in it") {
		t.Fatalf("sam's list after the removal: %q", out)
	}
	// A group invite: lee joins with one code.
	cli(t, nil, "id", "new", "--kem", "mceliece348864f", "--home", home("lee"))
	out, _ = cli(t, nil, "group", "invite", "--home", home("teacher"), "class 5b", "--relay", r.addr(), "--name", "lee", "--no-qr")
	code := regexp.MustCompile(`invite code: ([A-Z2-7]+)\n`).FindStringSubmatch(out)
	if code == nil {
		t.Fatalf("group invite: %q", out)
	}
	cli(t, nil, "friend", "accept", "--home", home("lee"), code[1], "--name", "teacher")
	cli(t, nil, "inbox", "--home", home("teacher"))
	if _, errOut := cli(t, nil, "inbox", "--home", home("lee")); !strings.Contains(errOut, "you are in the group class 5b") {
		t.Fatalf("lee's inbox after the group invite: %q", errOut)
	}
	cli(t, nil, "group", "leave", "--home", home("ana"), "class 5b")
	cli(t, nil, "inbox", "--home", home("teacher"))
	if out, _ := cli(t, nil, "group", "list", "--home", home("teacher")); !strings.Contains(out, "class 5b\t2 members\tyou are the admin") {
		t.Fatalf("the teacher's list after ana left: %q", out)
	}
}
