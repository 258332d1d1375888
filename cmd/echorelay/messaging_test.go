package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/testutil"
)

// cli runs a client command and fails the test on a non-zero exit.
func cli(t *testing.T, stdin []byte, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := runCLI(t, stdin, args...)
	if code != 0 {
		t.Fatalf("echorelay %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

func loadIdentity(t *testing.T, home string) *seal.Identity {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(home, identityFile))
	if err != nil {
		t.Fatal(err)
	}
	id, err := seal.ParseIdentity(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// fetchEnvelopes returns every envelope a relay holds.
func fetchEnvelopes(t *testing.T, r *relayProc) [][]byte {
	t.Helper()
	c := r.client()
	var out [][]byte
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(30*time.Second))
	defer cancel()
	if _, err := fetchAll(ctx, c, nil, 0, func(it echo.Item) error {
		out = append(out, bytes.Clone(it.Envelope))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Alice on relay A and Bob on relay C of the chain A—B—C become friends with an invite code,
// Alice writes while Bob and his relay are offline, Bob reads later, answers; nobody else can read, the
// relays' files hold nothing that identifies or links them.
func TestMessagingAcrossChain(t *testing.T) {
	t.Parallel()
	a, b, c := chain(t)
	homes := t.TempDir()
	alice, bob, eve := filepath.Join(homes, "alice"), filepath.Join(homes, "bob"), filepath.Join(homes, "eve")
	idArgs := []string{"id", "new", "--home"}
	if testing.Short() {
		// Under emulation McEliece 6688128f key generation takes tens of seconds; the smallest
		// set goes through the same code. The full run uses the default.
		idArgs = []string{"id", "new", "--kem", "mceliece348864f", "--home"}
	}
	for _, h := range []string{alice, bob, eve} {
		out, _ := cli(t, nil, append(idArgs, h)...)
		if !regexp.MustCompile(`short ID: (\d{5} ){5}\d{5}\n`).MatchString(out) {
			t.Fatalf("id new printed no short ID: %q", out)
		}
		for _, f := range []string{identityFile, "history.db"} {
			if st, err := os.Stat(filepath.Join(h, f)); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("%s: not private (%v)", f, err)
			}
		}
		if st, err := os.Stat(h); err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("home %s: not private (%v)", h, err)
		}
	}

	// Invite at A; Bob accepts through his own relay C, to which the invite floods.
	out, _ := cli(t, nil, "friend", "invite", "--home", alice, "--relay", a.addr(), "--as", "alice")
	m := regexp.MustCompile(`invite code: ([A-Z2-7]+)\n`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "▀") {
		t.Fatalf("invite printed no code or no QR code: %q", out)
	}
	code := m[1]
	inv, err := seal.ParseInviteCode(code)
	if err != nil || inv.Relay != a.addr() || len(code)*5 < 8*(1+seal.InviteSecretSize) {
		t.Fatalf("invite code %q: %v", code, err)
	}
	out, _ = cli(t, nil, "friend", "accept", "--home", bob, code, "--name", "alice", "--relay", c.addr(), "--as", "bob")
	snRe := regexp.MustCompile(`safety number:? ((\d{5} ){11}\d{5})`)
	bobSN := snRe.FindStringSubmatch(out)
	if bobSN == nil {
		t.Fatalf("accept printed no safety number: %q", out)
	}
	// The answer travels C→B→A; Alice's inbox completes the invite.
	a.waitFor("the invite answer", func(s statusDoc) bool { return s.Cache.Blobs >= 2 })
	out, _ = cli(t, nil, "inbox", "--home", alice)
	aliceSN := snRe.FindStringSubmatch(out)
	if !strings.Contains(out, "friend added: bob") || aliceSN == nil || aliceSN[1] != bobSN[1] {
		t.Fatalf("alice's inbox did not add bob with the same safety number (%s): %q", bobSN[1], out)
	}
	out, _ = cli(t, nil, "friend", "list", "--home", alice)
	if !strings.Contains(out, "bob") || !strings.Contains(out, bobSN[1]) || strings.Contains(out, "pending") {
		t.Fatalf("friend list: %q", out)
	}
	// A used code does nothing more: Eve, who copied it, gets Alice's bundle but Alice has
	// already taken Bob's answer.
	cli(t, nil, "friend", "accept", "--home", eve, code, "--name", "alice", "--relay", c.addr())
	a.waitFor("eve's answer", func(s statusDoc) bool { return s.Cache.Blobs >= 3 })
	out, _ = cli(t, nil, "inbox", "--home", alice)
	if strings.Contains(out, "friend added") {
		t.Fatalf("a used invite added a second friend: %q", out)
	}

	// A code nobody put on a relay: accept waits, then says so.
	fake, _ := seal.NewInvite(c.addr())
	if _, errOut, code := runCLI(t, nil, "friend", "accept", "--home", eve, fake.Code(), "--name", "x", "--wait", "1s"); code != 1 ||
		!strings.Contains(errOut, "no invite for this code reached the relay") || !strings.Contains(errOut, "hint: ") {
		t.Fatalf("accept of an unknown code: exit %d, %q", code, errOut)
	}

	// Bob is offline, and so is his relay C (his Pi at home is switched off). Alice sends
	// three messages and a 3 MB file; they reach A and B.
	c.stop()
	b.waitNeighbours(1)
	texts := []string{"first: the library at four " + hex.EncodeToString(randBytes(8)),
		"second: bring the atlas " + hex.EncodeToString(randBytes(8)),
		"third: see you " + hex.EncodeToString(randBytes(8))}
	epochStart := seal.Epoch(time.Now())
	cli(t, nil, "send", "--home", alice, "bob", "-m", texts[0])
	cli(t, []byte(texts[1]+"\n"), "send", "--home", alice, "bob", "-")
	cli(t, nil, "send", "--home", alice, "bob", "-m", texts[2])
	file := randBytes(3_000_000)
	fpath := filepath.Join(homes, "atlas.bin")
	os.WriteFile(fpath, file, 0o644)
	out, _ = cli(t, nil, "send", "--home", alice, "bob", fpath)
	if !strings.Contains(out, "2 chunks") {
		t.Fatalf("a 3 MB file was not chunked in two: %q", out)
	}
	// Mistakes while sending put nothing on the relay.
	sparse := filepath.Join(homes, "huge.bin")
	if f, err := os.Create(sparse); err != nil || f.Truncate(maxSendFile+1) != nil || f.Close() != nil {
		t.Fatal("cannot make a sparse file")
	}
	for _, m := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--home", alice, "bob", sparse}, "send takes at most"},
		{[]string{"send", "--home", alice, "bob"}, "nothing to send"},
		{[]string{"send", "--home", alice, "carol", "-m", "hi"}, `no friend called "carol"`},
		{[]string{"send", "--home", alice, "bob", fpath, "-m", "hi"}, "both -m and a file"},
	} {
		if _, errOut, code := runCLI(t, nil, m.args...); code != 1 || !strings.Contains(errOut, m.want) || !strings.Contains(errOut, "hint: ") {
			t.Fatalf("%v: exit %d, %q; want %q and a hint", m.args, code, errOut, m.want)
		}
	}

	// 3 invite blobs + 3 texts + 2 chunks. When C comes back, reconciliation with B brings it
	// what it missed.
	b.waitFor("alice's messages at B", func(s statusDoc) bool { return s.Cache.Blobs == 8 })
	c.start(c.port)
	c.waitNeighbours(1)
	c.waitFor("alice's messages at C", func(s statusDoc) bool { return s.Cache.Blobs == 8 })

	// Later, Bob reads at C.
	out, _ = cli(t, nil, "inbox", "--home", bob)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("bob's inbox shows %d lines, want 4: %q", len(lines), out)
	}
	for i, txt := range texts {
		if !strings.HasSuffix(lines[i], "] alice: "+txt) {
			t.Fatalf("line %d is %q, want alice's %q", i, lines[i], txt)
		}
	}
	if !strings.Contains(lines[3], "alice: file atlas.bin (3000000 bytes) saved to") {
		t.Fatalf("file line: %q", lines[3])
	}
	got, err := os.ReadFile(filepath.Join(bob, "files", "atlas.bin"))
	if err != nil || !bytes.Equal(got, file) {
		t.Fatalf("received file differs (%d bytes, %v)", len(got), err)
	}
	if out, _ := cli(t, nil, "inbox", "--home", bob); out != "" {
		t.Fatalf("second inbox shows again: %q", out)
	}

	// Eve, a third identity, opens none of the relay's blobs.
	eveID := loadIdentity(t, eve)
	envs := fetchEnvelopes(t, c)
	for _, env := range envs {
		e, _ := echo.ParseEnvelope(env)
		if msg, err := seal.Open(eveID, e.Payload, func(seal.Fingerprint) *seal.Bundle { return loadIdentity(t, alice).Bundle() }); err == nil {
			t.Fatalf("eve opened a blob: %q", msg.Content)
		}
	}
	if out, _ := cli(t, nil, "inbox", "--home", eve, "--all", "--relay", c.addr()); strings.Contains(out, "alice:") {
		t.Fatalf("eve's inbox shows alice's messages: %q", out)
	}

	// A bit-flipped copy and a replayed copy (re-enveloped, so with a new blob ID) of one of
	// Alice's texts are rejected with their reasons, never shown.
	var text echo.Envelope
	for _, env := range envs {
		e, _ := echo.ParseEnvelope(env)
		kemID := loadIdentity(t, bob).Bundle().KEMID()
		if !e.Tag.IsZero() && len(e.Payload) < 64<<10 && e.Payload[0] == 1 && e.Payload[1] == byte(kemID>>8) && e.Payload[2] == byte(kemID) {
			text = e
		}
	}
	if text.Payload == nil {
		t.Fatal("found no sealed text on the relay")
	}
	cc := c.client()
	flipped := text
	flipped.Payload = bytes.Clone(text.Payload)
	flipped.Payload[len(flipped.Payload)-100] ^= 0x10
	flipped.Expiry++
	replayed := text
	replayed.Expiry += 2
	for _, e := range []echo.Envelope{flipped, replayed} {
		env, _ := e.Marshal()
		if _, _, err := cc.Put(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut := cli(t, nil, "inbox", "--home", bob)
	if out != "" || !strings.Contains(errOut, "in alice's mailbox: tampered or sealed to someone else") ||
		!strings.Contains(errOut, "in alice's mailbox: replay of a message already received") {
		t.Fatalf("tampered and replayed blobs: stdout %q, stderr %q", out, errOut)
	}

	// Bob's reply reaches Alice at A. Beside it lies a misaddressed blob: Alice's own message to
	// Bob, put under the tag Bob would use to write to her. It is rejected, not shown.
	pair := pairSecret(t, bob, "alice")
	misaddressed := text
	misaddressed.Tag = seal.MailboxTag(pair, loadIdentity(t, bob).Fingerprint(), seal.Epoch(time.Now()))
	menv, _ := misaddressed.Marshal()
	if _, _, err := cc.Put(context.Background(), menv); err != nil {
		t.Fatal(err)
	}
	reply := "reply: see you at four " + hex.EncodeToString(randBytes(8))
	cli(t, nil, "send", "--home", bob, "alice", "-m", reply)
	a.waitFor("bob's reply at A", func(s statusDoc) bool { return s.Cache.Blobs == 12 })
	out, errOut = cli(t, nil, "inbox", "--home", alice)
	if strings.TrimSpace(out) == "" || !strings.HasSuffix(strings.TrimSpace(out), "] bob: "+reply) ||
		!strings.Contains(errOut, "in bob's mailbox: tampered or sealed to someone else") {
		t.Fatalf("alice's inbox: stdout %q, stderr %q", out, errOut)
	}
	out, _ = cli(t, nil, "history", "--home", bob, "alice")
	hl := strings.Split(strings.TrimSpace(out), "\n")
	if len(hl) != 5 || !strings.HasSuffix(hl[0], "] alice: "+texts[0]) || !strings.Contains(hl[3], "alice: file ") ||
		!strings.HasSuffix(hl[4], "] me → alice: "+reply) {
		t.Fatalf("bob's history with alice: %q", out)
	}

	// Untagged: Bob sends without a tag. Alice's tagged inbox does not see it; her --all inbox,
	// which fetches every blob and tries to open each, does, and skips the rest silently.
	untagged := "untagged: no mailbox at all " + hex.EncodeToString(randBytes(8))
	cli(t, nil, "send", "--home", bob, "alice", "--untagged", "-m", untagged)
	a.waitFor("the untagged message at A", func(s statusDoc) bool { return s.Cache.Blobs == 13 })
	if out, _ := cli(t, nil, "inbox", "--home", alice); out != "" {
		t.Fatalf("the tagged inbox shows an untagged message: %q", out)
	}
	out, errOut = cli(t, nil, "inbox", "--home", alice, "--all")
	if strings.TrimSpace(out) == "" || !strings.HasSuffix(strings.TrimSpace(out), "] bob: "+untagged) || strings.Contains(out, reply) || errOut != "" {
		t.Fatalf("alice's --all inbox: stdout %q, stderr %q", out, errOut)
	}
	epochEnd := seal.Epoch(time.Now())

	// The relays' files: no plaintext, no public key bytes, no fingerprint, and no tag that
	// another epoch would reuse (while this epoch's tags are there, so the scan can find tags).
	aliceID, bobID := loadIdentity(t, alice), loadIdentity(t, bob)
	var needles [][]byte
	for _, txt := range append(texts, reply, untagged) {
		needles = append(needles, []byte(txt[len(txt)-16:]))
	}
	needles = append(needles, file[1_000_000:1_000_032], file[2_999_000:2_999_032])
	for _, id := range []*seal.Identity{aliceID, bobID} {
		raw := id.Bundle().Bytes()
		fp := id.Fingerprint()
		k := len(raw) - 1994 - 64 - 3309 // the KEM public key's length (PROTOCOL.md 7.1)
		needles = append(needles, fp[:],
			raw[10:42],                   // McEliece public key, its start
			raw[10+k/2:10+k/2+32],        // … its middle
			raw[10+k-1216:10+k-1184],     // ML-KEM-768 public key
			raw[10+k-32:10+k],            // X25519 public key
			raw[10+k:10+k+32],            // Ed25519 public key
			raw[10+k+32+900:10+k+32+932]) // ML-DSA-65 public key
	}
	var present, absent [][]byte
	for _, who := range []*seal.Identity{aliceID, bobID} {
		for e := epochStart - 3; e <= epochEnd+3; e++ {
			tag := seal.MailboxTag(pair, who.Fingerprint(), e)
			if e == epochStart || e == epochEnd {
				present = append(present, tag[:])
			} else {
				absent = append(absent, tag[:])
			}
		}
	}
	if seal.MailboxTag(pair, aliceID.Fingerprint(), epochStart) == seal.MailboxTag(pair, bobID.Fingerprint(), epochStart) {
		t.Fatal("both directions share a tag")
	}
	// The needles are real: the two homes hold every one of them.
	mine := append(relayFiles(t, bob), relayFiles(t, alice)...)
	for i, n := range needles {
		if !bytes.Contains(mine, n) {
			t.Fatalf("needle %d is not even in the homes: the scan would be blind", i)
		}
	}
	for _, r := range []*relayProc{a, b, c} {
		r.stop()
		data := relayFiles(t, r.dir)
		for i, n := range append(needles, absent...) {
			if bytes.Contains(data, n) {
				t.Fatalf("relay %s: its files contain needle %d (%x…)", r.name, i, n[:8])
			}
		}
		found := false
		for _, p := range present {
			found = found || bytes.Contains(data, p)
		}
		if !found {
			t.Fatalf("relay %s: this epoch's tag is not in its files: the scan is blind", r.name)
		}
	}

	// With the relays gone, inbox says which relay it could not read, and loses nothing.
	if _, errOut, code := runCLI(t, nil, "inbox", "--home", bob, "--timeout", "2s"); code != 1 ||
		!strings.Contains(errOut, "echorelay: could not read "+c.addr()) || !strings.Contains(errOut, "hint: ") {
		t.Fatalf("inbox with its relay down: exit %d, %q", code, errOut)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// relayFiles concatenates every file under dir (SQLite database, WAL, keys).
func relayFiles(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(all, []byte("SQLite format 3")) {
		t.Fatalf("no SQLite file in %s", dir)
	}
	return all
}

func pairSecret(t *testing.T, home, friend string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(home, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s []byte
	if err := db.QueryRow(`SELECT pair_secret FROM friends WHERE name = ?`, friend).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Mistakes a user can make get one line and a hint, and change nothing.
func TestMessagingCLIMistakes(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "me")
	check := func(wantCode int, want string, args ...string) {
		t.Helper()
		_, errOut, code := runCLI(t, nil, args...)
		if code != wantCode || !strings.Contains(errOut, want) || !strings.Contains(errOut, "hint: ") || !strings.HasPrefix(errOut, "echorelay: ") {
			t.Fatalf("%v: exit %d, stderr %q; want exit %d and %q with a hint", args, code, errOut, wantCode, want)
		}
	}
	check(1, "no identity in", "inbox", "--home", home)
	check(1, "no identity in", "send", "--home", home, "bob", "-m", "hi")
	cli(t, nil, "id", "new", "--home", home, "--kem", "mceliece348864f")
	check(1, "an identity already exists", "id", "new", "--home", home)
	check(1, "unknown McEliece set", "id", "new", "--home", home+"2", "--kem", "rsa")
	check(1, "no friend called", "send", "--home", home, "bob", "-m", "hi")
	check(1, "--relay is required", "friend", "invite", "--home", home)
	check(1, "--name is required", "friend", "accept", "--home", home, "AAAA")
	check(1, "not a valid invite code", "friend", "accept", "--home", home, "AEBC6UE72XRZQ36G2TSY7KU3P67A4MJSG4XDALRQFYYTUNZZGAYWBUNPGA", "--name", "x")
	check(1, "bad friend name", "friend", "accept", "--home", home, "AAAA", "--name", "a b")
	check(2, "unknown command", "frend")
	check(1, "unknown subcommand", "friend", "remove")
	check(1, "--protect needs a passphrase", "id", "new", "--home", home+"3", "--protect")

	// A passphrase-protected identity needs its passphrase. Argon2id over 64 MiB takes tens of
	// seconds under emulation; echo/seal's tests cover the format there with a lighter cost.
	if testing.Short() {
		return
	}
	prot := filepath.Join(t.TempDir(), "prot")
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("correct horse\n"), 0o600)
	cli(t, nil, "id", "new", "--home", prot, "--protect", "--passphrase-file", pf, "--kem", "mceliece348864f")
	check(1, "protected by a passphrase", "id", "show", "--home", prot)
	if out, _ := cli(t, nil, "id", "show", "--home", prot, "--passphrase-file", pf); !strings.Contains(out, "short ID") {
		t.Fatalf("id show: %q", out)
	}
	raw, _ := os.ReadFile(filepath.Join(prot, identityFile))
	if !seal.IsProtected(raw) {
		t.Fatal("identity not protected on disk")
	}
	if _, err := seal.ParseIdentity(raw, []byte("wrong")); !errors.Is(err, seal.ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

// inbox --watch prints a message as soon as it arrives, stops cleanly on SIGINT, and a later
// plain inbox does not show it again.
func TestMessagingWatch(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "R")
	homes := t.TempDir()
	alice, bob := filepath.Join(homes, "alice"), filepath.Join(homes, "bob")
	for _, h := range []string{alice, bob} {
		cli(t, nil, "id", "new", "--kem", "mceliece348864f", "--home", h)
	}
	out, _ := cli(t, nil, "friend", "invite", "--home", alice, "--relay", r.addr(), "--no-qr", "--name", "bob")
	code := regexp.MustCompile(`invite code: ([A-Z2-7]+)\n`).FindStringSubmatch(out)
	if code == nil {
		t.Fatalf("no code: %q", out)
	}
	cli(t, nil, "friend", "accept", "--home", bob, code[1], "--name", "alice", "--as", "robert") // the name given at invite time wins
	cli(t, nil, "inbox", "--home", alice)

	w := relayCommand("inbox", "--home", bob, "--watch")
	var stdout, stderr testutil.Buffer
	w.Stdout, w.Stderr = &stdout, &stderr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- w.Wait() }()
	t.Cleanup(func() {
		w.Process.Kill()
		<-exited
	})
	waitText := func(b *testutil.Buffer, want string) {
		t.Helper()
		if !testutil.Poll(20*time.Second, func() bool { return strings.Contains(b.String(), want) }) {
			t.Fatalf("watch did not print %q; stdout %q, stderr %q", want, stdout.String(), stderr.String())
		}
	}
	waitText(&stderr, "watching for new messages")
	live := "live: " + hex.EncodeToString(randBytes(8))
	cli(t, nil, "send", "--home", alice, "bob", "-m", live)
	waitText(&stdout, "] alice: "+live)
	w.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("watch did not stop cleanly on SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(testutil.Timeout(10 * time.Second)):
		t.Fatal("watch did not stop on SIGINT")
	}
	exited <- nil // for the cleanup
	if out, _ := cli(t, nil, "inbox", "--home", bob); out != "" {
		t.Fatalf("the plain inbox shows again what watch showed: %q", out)
	}
	if _, errOut, code := runCLI(t, nil, "inbox", "--home", bob, "--watch", "--all"); code != 1 || !strings.Contains(errOut, "do not go together") {
		t.Fatalf("--watch --all: exit %d, %q", code, errOut)
	}
}
