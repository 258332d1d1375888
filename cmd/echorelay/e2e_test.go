package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
)

func chain(t *testing.T) (a, b, c *relayProc) {
	a, b, c = startRelay(t, "A"), startRelay(t, "B"), startRelay(t, "C")
	a.setPeers(b)
	b.setPeers(a, c)
	c.setPeers(b)
	a.waitNeighbours(1)
	b.waitNeighbours(2)
	c.waitNeighbours(1)
	return a, b, c
}

// A blob put at A with a mailbox tag is fetched from C byte-identical; B and C store it exactly
// once; A never receives it back; a second put is deduplicated.
func TestChainPutAtAGetAtC(t *testing.T) {
	t.Parallel()
	a, b, c := chain(t)
	var tag echo.Tag
	rand.Read(tag[:])
	tagHex := hex.EncodeToString(tag[:])
	atC := c.subscribe(tag)

	blob := make([]byte, 100<<10)
	rand.Read(blob)
	file := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(file, blob, 0o644)
	out, errOut, code := runCLI(t, nil, "put", "--relay", a.addr(), "--mailbox", tagHex, "--ttl", "1h", file)
	if code != 0 {
		t.Fatalf("put: exit %d: %s", code, errOut)
	}
	id, err := echo.ParseID(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("put printed %q: %v", out, err)
	}
	waitItem(t, atC, id)

	got, errOut, code := runCLI(t, nil, "get", "--relay", c.addr(), "--mailbox", tagHex)
	if code != 0 || !bytes.Equal([]byte(got), blob) {
		t.Fatalf("get at C: exit %d, %d bytes (want %d identical): %s", code, len(got), len(blob), errOut)
	}
	cursor, err := strconv.ParseUint(strings.TrimSpace(lastLine(errOut)), 10, 64)
	if err != nil || cursor == 0 {
		t.Fatalf("get printed no cursor on stderr: %q", errOut)
	}
	// Resuming from the cursor gives nothing new.
	if out, _, code := runCLI(t, nil, "get", "--relay", c.addr(), "--mailbox", tagHex, "--since", strconv.FormatUint(cursor, 10)); code != 0 || out != "" {
		t.Fatalf("get after cursor: exit %d, %d bytes", code, len(out))
	}

	// A marker put at C travels C→B→A behind anything B might have sent A before it.
	marker := a.subscribe()
	mid, _, err := c.client().Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, []byte("marker")))
	if err != nil {
		t.Fatal(err)
	}
	waitItem(t, marker, mid)
	sa, sb, sc := a.status(), b.status(), c.status()
	if sb.Stored != 2 || sc.Stored != 2 || sb.Cache.Blobs != 2 || sc.Cache.Blobs != 2 {
		t.Fatalf("B stored %d (%d cached), C stored %d (%d cached); want 2 each", sb.Stored, sb.Cache.Blobs, sc.Stored, sc.Cache.Blobs)
	}
	if sa.Received != 2 || sa.Duplicates != 0 {
		t.Fatalf("A received %d blobs (%d duplicates): the first came back", sa.Received, sa.Duplicates)
	}

	// The same blob again: same ID, stored nowhere twice.
	out, errOut, code = runCLI(t, nil, "put", "--relay", a.addr(), "--mailbox", tagHex, "--ttl", "1h", file)
	if code != 0 {
		t.Fatalf("second put: %s", errOut)
	}
	if id2, _ := echo.ParseID(strings.TrimSpace(out)); id2 == id {
		// The TTL is in whole seconds, so a put in another second is another blob; the
		// dedup check uses the identical envelope through the client instead.
		_ = id2
	}
	env := mkEnvelope(t, tag, time.Hour, []byte("exactly once"))
	ca := a.client()
	if _, dup, err := ca.Put(context.Background(), env); err != nil || dup {
		t.Fatalf("first put: dup %v err %v", dup, err)
	}
	if _, dup, err := ca.Put(context.Background(), env); err != nil || !dup {
		t.Fatalf("second put of the same envelope: dup %v err %v", dup, err)
	}
	waitItem(t, atC, echo.BlobID(env))
	if s := a.status(); s.Duplicates < 1 {
		t.Fatalf("A counted no duplicate: %+v", s)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// C is down while A receives blobs; once C is back and linked, new blobs reach it.
func TestChainNeighbourComesBack(t *testing.T) {
	t.Parallel()
	a, b, c := chain(t)
	c.stop()
	b.waitNeighbours(1)
	atB := b.subscribe()
	env := mkEnvelope(t, echo.Tag{}, time.Hour, []byte("while C was down"))
	ca := a.client()
	if _, _, err := ca.Put(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	waitItem(t, atB, echo.BlobID(env))

	c.start(c.port)
	c.waitNeighbours(1)
	b.waitNeighbours(2)
	atC := c.subscribe()
	env2 := mkEnvelope(t, echo.Tag{}, time.Hour, []byte("after C came back"))
	if _, _, err := ca.Put(context.Background(), env2); err != nil {
		t.Fatal(err)
	}
	waitItem(t, atC, echo.BlobID(env2))
}

// A restart keeps the cache; an expired blob is never served and is gone after the sweep.
func TestRestartKeepsCacheAndExpiryRemoves(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "R")
	cl := r.client() // dialled first: the short blob's 2 s run from its put
	keep := mkEnvelope(t, echo.Tag{}, time.Hour, []byte("keep me"))
	short := mkEnvelope(t, echo.Tag{}, 2*time.Second, []byte("short-lived"))
	for _, e := range [][]byte{keep, short} {
		if _, _, err := cl.Put(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	r.kill() // no clean shutdown: acknowledged blobs must survive
	r.start(r.port)
	items, _, _, err := r.client().Fetch(context.Background(), nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[echo.ID]bool{}
	for _, it := range items {
		ids[echo.BlobID(it.Envelope)] = true
	}
	if !ids[echo.BlobID(keep)] {
		t.Fatal("blob lost across a restart")
	}
	// Wait (bounded) until the short blob's expiry second has passed.
	e, _ := echo.ParseEnvelope(short)
	testutil.Eventually(t, 10*time.Second, "the short blob's expiry", func() bool { return time.Now().Unix() > e.Expiry })
	items, _, _, err = r.client().Fetch(context.Background(), nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if echo.BlobID(it.Envelope) == echo.BlobID(short) {
			t.Fatal("expired blob served")
		}
	}
	r.restart() // the sweep runs at open
	if s := r.status(); s.Cache.Blobs != 1 {
		t.Fatalf("after the sweep the cache holds %d blobs, want 1", s.Cache.Blobs)
	}
}

// Each typed error is produced by a real relay and reaches the client as that type.
func TestTypedErrors(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "R", "--max-blob", "8192", "--mailbox-quota", "10000", "--max-store", "40000")
	cl := r.client()
	ctx := context.Background()
	put := func(env []byte) error { _, _, err := cl.Put(ctx, env); return err }
	var tag echo.Tag
	tag[0] = 1

	if err := put(mkEnvelope(t, echo.Tag{}, time.Hour, make([]byte, 9000))); !errors.Is(err, echo.ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if err := put(mkEnvelope(t, echo.Tag{}, -time.Minute, []byte("old"))); !errors.Is(err, echo.ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if err := put(mkEnvelope(t, echo.Tag{}, 31*24*time.Hour, []byte("late"))); !errors.Is(err, echo.ErrTooFarFuture) {
		t.Errorf("future: %v", err)
	}
	if err := put([]byte("not an envelope")); !errors.Is(err, echo.ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
	// Mailbox quota: 10 000 bytes per tag.
	var quotaErr error
	for i := 0; i < 4 && quotaErr == nil; i++ {
		quotaErr = put(mkEnvelope(t, tag, time.Hour, bytes.Repeat([]byte{byte(i)}, 4000)))
	}
	if !errors.Is(quotaErr, echo.ErrQuotaExceeded) {
		t.Errorf("quota: %v", quotaErr)
	}
	// Store full: blobs in mailboxes of their own (untagged blobs share one quota, 10 000
	// bytes here) with ever sooner expiry, so none can evict another.
	var fullErr error
	for i := 0; i < 20 && fullErr == nil; i++ {
		var own echo.Tag
		own[0], own[1] = 2, byte(i)
		fullErr = put(mkEnvelope(t, own, time.Hour-time.Duration(i)*time.Minute, bytes.Repeat([]byte{byte(i)}, 6000)))
	}
	if !errors.Is(fullErr, echo.ErrStoreFull) {
		t.Errorf("full: %v", fullErr)
	}
	// The relay still serves, and counted every reason.
	if err := put(mkEnvelope(t, echo.Tag{}, 2*time.Hour, []byte("small, later expiry: evicts"))); err != nil {
		t.Errorf("put after full: %v", err)
	}
	s := r.status()
	for _, reason := range []string{"too_large", "expired", "too_far_future", "malformed", "quota_exceeded", "store_full"} {
		if s.Rejects[reason] < 1 {
			t.Errorf("status counts no %s reject: %v", reason, s.Rejects)
		}
	}

	// The CLI reports a refusal as one line plus a hint and a non-zero exit.
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, make([]byte, 9000), 0o644)
	_, errOut, code := runCLI(t, nil, "put", "--relay", r.addr(), big)
	if code == 0 || !strings.HasPrefix(errOut, "echorelay: ") || !strings.Contains(errOut, "too_large") || !strings.Contains(errOut, "\nhint: ") {
		t.Errorf("CLI oversized put: exit %d, stderr %q", code, errOut)
	}
}

func TestCLIUserMistakes(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"put"},
		{"put", "--relay", "127.0.0.1:1", "--mailbox", "xyz"},
		{"get", "--relay", "nonsense"},
		{"serve", "--max-blob", "5"},
		{"frobnicate"},
	} {
		_, errOut, code := runCLI(t, []byte{}, args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code == 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "echorelay: ") || !strings.HasPrefix(lines[1], "hint: ") {
			t.Errorf("%v: exit %d, stderr %q; want one error line and one hint line", args, code, errOut)
		}
	}
}

// Logs name no client address and no mailbox tag, even at debug level.
func TestLogsHoldNoAddressesOrTags(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "R")
	var tag echo.Tag
	rand.Read(tag[:])
	cl := r.client()
	if _, _, err := cl.Put(context.Background(), mkEnvelope(t, tag, time.Hour, []byte("private"))); err != nil {
		t.Fatal(err)
	}
	cl.Put(context.Background(), []byte("garbage"))
	r.stop()
	log := r.log.String()
	if strings.Contains(log, hex.EncodeToString(tag[:])) || strings.Contains(log, hex.EncodeToString(tag[:8])) || strings.Contains(log, "private") {
		t.Fatalf("log holds a tag or a body:\n%s", log)
	}
	// The relay's own listen address is logged once; no other 127.0.0.1 address may appear.
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "127.0.0.1:") && !strings.Contains(line, "relay listening") {
			t.Fatalf("log line names an address: %s", line)
		}
	}
}
