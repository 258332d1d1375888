package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
)

// abuseStatus reads the relay's /status "abuse" block.
func (r *relayProc) abuseStatus() map[string]any {
	r.t.Helper()
	resp, err := http.Get("http://" + r.admin + "/status")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Abuse map[string]any `json:"abuse"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.Abuse == nil {
		r.t.Fatalf("/status has no abuse block: %v", err)
	}
	return doc.Abuse
}

// A relay started with --stamp-bits asks for stamps in its HELLO; `echorelay put` computes one
// without being told, a client that sends none gets stamp_required.
func TestPutComputesStamp(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "stamps", "--stamp-bits", "12")
	out, errOut, code := runCLI(t, []byte("stamped hello"), "put", "--relay", r.addr(), "--ttl", "1h")
	if code != 0 {
		t.Fatalf("put: exit %d: %s", code, errOut)
	}
	id, err := echo.ParseID(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, errOut, code := runCLI(t, nil, "get", "--relay", r.addr(), "--raw", "--out", dir); code != 0 {
		t.Fatalf("get: exit %d: %s", code, errOut)
	}
	env, err := os.ReadFile(filepath.Join(dir, id.String()))
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := echo.StampCost(env); err != nil || cost < 12 {
		t.Fatalf("stored envelope's stamp is worth %d bits (%v), want >= 12", cost, err)
	}
	_, _, err = r.client().Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, []byte("no stamp")))
	if !errors.Is(err, echo.ErrStampRequired) {
		t.Fatalf("unstamped put: %v", err)
	}
	if a := r.abuseStatus(); a["stamp_rejected"] != 1.0 || a["stamp_bits"] != 12.0 {
		t.Fatalf("abuse status %v", a)
	}
}

// Over its per-address rate, `echorelay put` says "rate limited" with the time to wait and a
// hint, and the relay counts it; reconnecting does not help.
func TestPutRateLimited(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "limited", "--rate-submits", "0.1") // bursts of 1 (5 x 0.1, rounded), then one per 10 s
	if _, _, err := r.client().Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, []byte("first"))); err != nil {
		t.Fatalf("within the burst: %v", err)
	}
	_, errOut, code := runCLI(t, []byte("one too many"), "put", "--relay", r.addr())
	if code != 1 || !strings.Contains(errOut, "(rate_limited)") || !strings.Contains(errOut, "retry after") ||
		!strings.Contains(errOut, "hint: wait") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "echorelay: ") {
		t.Fatalf("want one error line and one hint line:\n%s", errOut)
	}
	a := r.abuseStatus()
	if a["rate_limited"] != 1.0 || a["rate_submits"] != 0.1 {
		t.Fatalf("abuse status %v", a)
	}
	if _, ok := a["closes_by_reason"].(map[string]any); !ok {
		t.Fatalf("abuse status has no closes_by_reason: %v", a)
	}
}

func TestServeAbuseFlagMistakes(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--stamp-bits", "33"}, {"--rate-submits", "-1"}, {"--max-conns", "0"}} {
		_, errOut, code := runCLI(t, nil, append([]string{"serve", "--data", t.TempDir(), "--admin", "off", "--listen", "127.0.0.1:0"}, args...)...)
		if code == 0 || !strings.Contains(errOut, "echorelay: ") || !strings.Contains(errOut, "hint: ") {
			t.Fatalf("%v: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
	_, errOut, code := runCLI(t, nil, "check", "--data", filepath.Join(t.TempDir(), "none"))
	if code != 1 || !strings.Contains(errOut, "no cache at") || !strings.Contains(errOut, "hint: ") {
		t.Fatalf("check without a cache: exit %d, stderr:\n%s", code, errOut)
	}
}

// A relay process under a mix of hostile connections (garbage, 4 GiB length prefixes,
// half-sent frames held open, TCP without TLS) keeps serving a well-behaved client with normal
// latency, and its /status counts the closes by reason. Not parallel: it measures latency.
func TestRelayServesDuringHostileConnections(t *testing.T) {
	r := startRelay(t, "hostile")
	hello := echo.Hello{Version: echo.Version, Role: echo.RoleClient}.Frame().Marshal()
	attacks := map[string][]byte{
		"garbage":     []byte("GET / HTTP/1.1\r\nHost: relay\r\n\r\n"),
		"4 GiB frame": append(append([]byte(nil), hello...), 0xff, 0xff, 0xff, 0xff, byte(echo.FrameSubmit)),
		"half frame":  append(append([]byte(nil), hello...), 0, 0, 1, 0, byte(echo.FrameSubmit), 1), // held open
	}
	const each = 20
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < each; i++ {
		raw, err := net.Dial("tcp", r.addr()) // TCP, never a TLS handshake
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, raw)
		for name, b := range attacks {
			c, err := tls.Dial("tcp", r.addr(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{peers.ALPN}})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			conns = append(conns, c)
			if _, err := c.Write(b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	// A well-behaved client meanwhile: connect, put, get.
	bound := testutil.Timeout(2 * time.Second)
	for i := 0; i < 3; i++ {
		start := time.Now()
		var tag echo.Tag
		tag[0], tag[1] = 0xab, byte(i)
		ctx, cancel := context.WithTimeout(context.Background(), 4*bound)
		c, err := peers.DialClient(ctx, r.addr())
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := c.Put(ctx, mkEnvelope(t, tag, time.Hour, []byte("still served")))
		if err != nil {
			t.Fatal(err)
		}
		items, _, _, err := c.Fetch(ctx, []echo.Tag{tag}, 0, 0)
		c.Close()
		cancel()
		if err != nil || len(items) != 1 || echo.BlobID(items[0].Envelope) != id {
			t.Fatalf("get: %d items, %v", len(items), err)
		}
		if d := time.Since(start); d > bound {
			t.Fatalf("put and get took %s under attack (bound %s)", d, bound)
		}
	}
	var closes map[string]any
	if !testutil.Poll(20*time.Second, func() bool {
		closes, _ = r.abuseStatus()["closes_by_reason"].(map[string]any)
		return closes["malformed"] == float64(2*each)
	}) {
		t.Fatalf("closes by reason %v, want %d malformed", closes, 2*each)
	}
	// The log names the relay's own addresses, never a client's (clients use other ports).
	log := strings.NewReplacer(r.addr(), "", r.admin, "", r.web, "").Replace(r.log.String())
	if strings.Contains(log, "127.0.0.1") {
		t.Fatalf("the relay logged a client address:\n%s", r.log.String())
	}
}

// Over the per-address fetch rate, `echorelay get` waits as the relay says and still reads
// the whole backlog; the relay counts the refused pages.
func TestGetPacedByFetchLimit(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "fetchlimited", "--rate-fetches", "0.5", "--rate-submits", "0") // bursts of 3 pages, then one per 2 s
	c := r.client()
	const n = 450 // 5 pages of 100
	for i := 0; i < n; i++ {
		if _, _, err := c.Put(context.Background(), mkEnvelope(t, echo.Tag{}, time.Hour, []byte(fmt.Sprintf("blob %d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	_, errOut, code := runCLI(t, nil, "get", "--relay", r.addr(), "--out", dir)
	if code != 0 {
		t.Fatalf("get: exit %d\n%s", code, errOut)
	}
	if files, _ := os.ReadDir(dir); len(files) != n {
		t.Fatalf("get wrote %d blobs, want %d", len(files), n)
	}
	if a := r.abuseStatus(); a["fetch_limited"].(float64) < 1 || a["rate_fetches"] != 0.5 {
		t.Fatalf("abuse status %v: want refused fetches counted and rate_fetches 0.5", a)
	}
}
