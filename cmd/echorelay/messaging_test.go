package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	chome "github.com/echorelay/echorelay/client/home"
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
	raw, err := os.ReadFile(filepath.Join(home, chome.IdentityFile))
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
	if _, err := client.FetchPages(ctx, c, nil, 0, 0, func(it echo.Item) error {
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
		for _, f := range []string{chome.IdentityFile, chome.HistoryFile} {
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
	// A code works once: Eve, who copied it, is refused, since Bob's answer is on the relay.
	if _, errOut, code := runCLI(t, nil, "friend", "accept", "--home", eve, code, "--name", "alice", "--relay", c.addr()); code != 1 ||
		!strings.Contains(errOut, "this invite was already answered; ask alice for a new one") || !strings.Contains(errOut, "hint: ") {
		t.Fatalf("accept of an answered code: exit %d, %q", code, errOut)
	}
	// A second valid answer that does not go through the CLI (an Eve with her own client) adds
	// nobody; Alice hears that her code leaked.
	eveAnswer, _, err := inv.SealAnswer(loadIdentity(t, eve), loadIdentity(t, alice).Bundle(), seal.AnswerInfo{Nick: "eve"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.client().Put(context.Background(), mkEnvelope(t, echo.Tag(inv.AcceptorTag()), time.Hour, eveAnswer)); err != nil {
		t.Fatal(err)
	}
	a.waitFor("eve's answer", func(s statusDoc) bool { return s.Cache.Blobs >= 3 })
	out, errOut := cli(t, nil, "inbox", "--home", alice)
	if strings.Contains(out, "friend added") || !strings.Contains(out+errOut, "someone else also answered your invite for bob") {
		t.Fatalf("a second answer: stdout %q, stderr %q", out, errOut)
	}

	// A code nobody put on a relay: accept waits, then says so.
	fake, _ := seal.NewInviteFor(loadIdentity(t, alice), c.addr(), [32]byte{})
	if _, errOut, code := runCLI(t, nil, "friend", "accept", "--home", eve, fake.Code(), "--name", "x", "--wait", "1s"); code != 1 ||
		!strings.Contains(errOut, "no invite for this code reached the relay") || !strings.Contains(errOut, "hint: ") {
		t.Fatalf("accept of an unknown code: exit %d, %q", code, errOut)
	}

	// Bob is offline, and so is his relay C (his Pi at home is switched off), where Alice
	// would send to him. She sends three messages and a 3 MB file through her own relay A
	// (--relay); they reach A and B.
	c.stop()
	b.waitNeighbours(1)
	texts := []string{"first: the library at four " + hex.EncodeToString(randBytes(8)),
		"second: bring the atlas " + hex.EncodeToString(randBytes(8)),
		"third: see you " + hex.EncodeToString(randBytes(8))}
	epochStart := seal.Epoch(time.Now())
	cli(t, nil, "send", "--home", alice, "bob", "--relay", a.addr(), "-m", texts[0])
	cli(t, []byte(texts[1]+"\n"), "send", "--home", alice, "bob", "--relay", a.addr(), "-")
	cli(t, nil, "send", "--home", alice, "bob", "--relay", a.addr(), "-m", texts[2])
	file := randBytes(3_000_000)
	fpath := filepath.Join(homes, "atlas.bin")
	os.WriteFile(fpath, file, 0o644)
	out, _ = cli(t, nil, "send", "--home", alice, "bob", "--relay", a.addr(), fpath)
	if !strings.Contains(out, "2 chunks") {
		t.Fatalf("a 3 MB file was not chunked in two: %q", out)
	}
	// Mistakes while sending put nothing on the relay.
	sparse := filepath.Join(homes, "huge.bin")
	if f, err := os.Create(sparse); err != nil || f.Truncate(client.MaxFile+1) != nil || f.Close() != nil {
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
	out, errOut = cli(t, nil, "inbox", "--home", bob)
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
	// The key and file needles are real: the homes hold them (identity files, received file).
	mine := append(relayFiles(t, bob), relayFiles(t, alice)...)
	for i, n := range needles[5:] {
		if !bytes.Contains(mine, n) && (i < 2 || i%7 != 2) { // fingerprints are hashed, not stored
			t.Fatalf("needle %d is not even in the homes: the scan would be blind", 5+i)
		}
	}
	// The histories are encrypted at rest (issue #16 item 8): no text, fingerprint, friend's
	// key, pair secret, name or relay address in clear in history.db and its WAL.
	for _, h := range []string{alice, bob} {
		var db []byte
		for _, f := range []string{"history.db", "history.db-wal"} {
			b, _ := os.ReadFile(filepath.Join(h, f))
			db = append(db, b...)
		}
		if !bytes.Contains(db, []byte("SQLite format 3")) {
			t.Fatalf("%s: no history.db", h)
		}
		for i, n := range append(append(needles[:5:5], needles[7:]...), pair, []byte(a.addr()), []byte(c.addr()), []byte("alice")) { // "bob" is too short: random bytes hold it
			if bytes.Contains(db, n) {
				t.Fatalf("%s: history.db holds needle %d in clear (%q…)", h, i, n[:min(8, len(n))])
			}
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
	cl, err := chome.Open(home, nil, dialTransport, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	f, err := cl.Friend(friend)
	if err != nil {
		t.Fatal(err)
	}
	return f.Pair
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
	check(1, "unknown subcommand", "friend", "delete")
	check(1, "friend remove takes 1 argument", "friend", "remove", "--home", home)
	check(1, "no friend called", "friend", "rename", "--home", home, "bob", "robert")
	check(1, "bad friend name", "friend", "rename", "--home", home, "bob", "ro bert")
	check(1, "no friend called", "friend", "block", "--home", home, "bob")
	// Without a terminal, `id new` needs a passphrase source or --no-passphrase: it does not
	// silently make an unprotected identity (runCLI sets ECHORELAY_NO_PASSPHRASE; this not).
	cmd := relayCommand("id", "new", "--home", home+"3", "--kem", "mceliece348864f")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "id new needs a passphrase") || !strings.Contains(string(out), "--no-passphrase") {
		t.Fatalf("id new without a passphrase: %v, %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(home+"3", chome.IdentityFile)); err == nil {
		t.Fatal("id new without a passphrase wrote an identity")
	}
	if _, errOut, _ := runCLI(t, nil, "id", "new", "--home", home+"4", "--kem", "mceliece348864f", "--no-passphrase"); !strings.Contains(errOut, "has no passphrase") {
		t.Fatalf("id new --no-passphrase does not warn: %q", errOut)
	}

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
	raw, _ := os.ReadFile(filepath.Join(prot, chome.IdentityFile))
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

// The outbox and the friend commands as a user runs them (issue #16 items 10, 11): a send to
// a relay that is down waits in the outbox, `outbox` lists it, the next inbox sends it once
// the relay is back and the friend gets it once; friends are renamed, blocked (their messages
// dropped silently) and removed.
func TestMessagingOutboxAndFriends(t *testing.T) {
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
	cli(t, nil, "friend", "accept", "--home", bob, code[1], "--name", "alice")
	cli(t, nil, "inbox", "--home", alice)
	if out, _ := cli(t, nil, "outbox", "--home", alice); !strings.Contains(out, "the outbox is empty") {
		t.Fatalf("outbox before: %q", out)
	}

	r.stop()
	queued := "queued: " + hex.EncodeToString(randBytes(8))
	out, errOut := cli(t, nil, "send", "--home", alice, "bob", "-m", queued)
	if !strings.Contains(out, "saved in the outbox; it is sent with your next send or inbox") || !strings.Contains(errOut, "could not reach the relay") {
		t.Fatalf("send with the relay down: stdout %q, stderr %q", out, errOut)
	}
	out, _ = cli(t, nil, "outbox", "--home", alice)
	if !regexp.MustCompile(`to bob via ` + regexp.QuoteMeta(r.addr()) + ` since .*: text, \d+ bytes in 1 blobs; tried 1 times, last at .*: `).MatchString(out) {
		t.Fatalf("outbox with the relay down: %q", out)
	}
	r.start(r.port)
	_, errOut = cli(t, nil, "inbox", "--home", alice)
	if !strings.Contains(errOut, "sent from the outbox to bob: text") {
		t.Fatalf("inbox with the relay back: %q", errOut)
	}
	if out, _ := cli(t, nil, "outbox", "--home", alice); !strings.Contains(out, "the outbox is empty") {
		t.Fatalf("outbox after: %q", out)
	}
	out, _ = cli(t, nil, "inbox", "--home", bob)
	if strings.Count(out, queued) != 1 {
		t.Fatalf("bob's inbox: %q", out)
	}
	if out, _ := cli(t, nil, "inbox", "--home", bob); out != "" {
		t.Fatalf("bob's second inbox: %q", out)
	}

	// Rename: the new name sends and shows in the list and the history.
	cli(t, nil, "friend", "rename", "--home", alice, "bob", "robert")
	if out, _ := cli(t, nil, "friend", "list", "--home", alice); !strings.HasPrefix(out, "robert\trelay "+r.addr()) {
		t.Fatalf("friend list after rename: %q", out)
	}
	if _, errOut, code := runCLI(t, nil, "send", "--home", alice, "bob", "-m", "x"); code != 1 || !strings.Contains(errOut, `no friend called "bob"`) {
		t.Fatalf("send to the old name: %d %q", code, errOut)
	}
	// Block: what alice sends is dropped silently, and stays dropped after unblock.
	cli(t, nil, "friend", "block", "--home", bob, "alice")
	if out, _ := cli(t, nil, "friend", "list", "--home", bob); !strings.Contains(out, "\tblocked") {
		t.Fatalf("friend list of a blocked friend: %q", out)
	}
	cli(t, nil, "send", "--home", alice, "robert", "-m", "while blocked")
	if out, errOut := cli(t, nil, "inbox", "--home", bob); out != "" || strings.Contains(errOut, "rejected") {
		t.Fatalf("inbox with alice blocked: stdout %q, stderr %q", out, errOut)
	}
	cli(t, nil, "friend", "unblock", "--home", bob, "alice")
	cli(t, nil, "send", "--home", alice, "robert", "-m", "after unblock")
	if out, _ := cli(t, nil, "inbox", "--home", bob); !strings.Contains(out, "after unblock") || strings.Contains(out, "while blocked") {
		t.Fatalf("inbox after unblock: %q", out)
	}
	out, _ = cli(t, nil, "history", "--home", alice, "robert")
	if !strings.Contains(out, "me → robert: "+queued) {
		t.Fatalf("history after rename: %q", out)
	}
	// Remove: gone from the list, the history stays.
	cli(t, nil, "friend", "remove", "--home", bob, "alice")
	if out, _ := cli(t, nil, "friend", "list", "--home", bob); strings.Contains(out, "alice") {
		t.Fatalf("friend list after remove: %q", out)
	}
	if out, _ := cli(t, nil, "history", "--home", bob); !strings.Contains(out, "(removed ") || !strings.Contains(out, queued) {
		t.Fatalf("history after remove: %q", out)
	}

	// Pinning (issue #16 item 7): another relay at R's address, with another key, is refused
	// when reading and when sending (the message waits in the outbox).
	r.stop()
	impostor := &relayProc{t: t, name: "impostor", dir: t.TempDir()}
	impostor.start(r.port)
	t.Cleanup(impostor.stop)
	if _, errOut, code := runCLI(t, nil, "inbox", "--home", alice); code != 1 || !strings.Contains(errOut, "not the one expected") ||
		!strings.Contains(errOut, "hint: the relay there presents another key") {
		t.Fatalf("inbox at an impostor: exit %d, %q", code, errOut)
	}
	if out, _ := cli(t, nil, "send", "--home", alice, "robert", "-m", "to the impostor?"); !strings.Contains(out, "saved in the outbox") {
		t.Fatalf("send to an impostor: %q", out)
	}
	if envs := fetchEnvelopes(t, impostor); len(envs) != 0 {
		t.Fatalf("the impostor got %d blobs", len(envs))
	}
}
