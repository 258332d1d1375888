package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
)

// --pprof takes only a loopback address; anything else is a user mistake with a hint.
func TestPprofFlagRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:6060", "192.0.2.1:6060", "localhost6060", "example.org:6060"} {
		_, errOut, code := runCLI(t, nil, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "off", "--pprof", addr)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code == 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "echorelay: --pprof") || !strings.HasPrefix(lines[1], "hint: ") {
			t.Errorf("--pprof %s: exit %d, stderr %q; want one error line about --pprof and one hint line", addr, code, errOut)
		}
	}
}

// The release build has no profiler: a loopback --pprof is refused with the way to get one,
// before anything is started.
func TestPprofNotInReleaseBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, errOut, code := runCLI(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--admin", "off", "--pprof", "127.0.0.1:0")
	want := "echorelay: --pprof: this echorelay was built without the profiler\nhint: build it with: go build -tags pprof ./cmd/echorelay\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache.db")); err == nil {
		t.Error("the refused relay created its cache")
	}
}

var pprofBin struct {
	once sync.Once
	path string
	err  error
}

// pprofBinary builds the developer binary (-tags pprof) once, next to binPath.
func pprofBinary(t *testing.T) string {
	t.Helper()
	pprofBin.once.Do(func() {
		p := filepath.Join(filepath.Dir(binPath), "echorelay-pprof")
		out, err := exec.Command("go", "build", "-tags", "pprof", "-o", p, ".").CombinedOutput()
		if err != nil {
			pprofBin.err = fmt.Errorf("%v\n%s", err, out)
			return
		}
		pprofBin.path = p
	})
	if pprofBin.err != nil {
		t.Fatalf("failed to build echorelay -tags pprof: %v", pprofBin.err)
	}
	return pprofBin.path
}

// With --pprof on loopback a developer build serves Go's profiles there.
func TestPprofServesProfiles(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	startRelayBin(t, pprofBinary(t), "P", "--pprof", addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	n, _ := resp.Body.Read(buf)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(buf[:n]), "goroutine profile:") {
		t.Fatalf("status %d, body %q", resp.StatusCode, buf[:min(n, 200)])
	}
}

// --commit-delay takes 0 to 1s and --fsync-every 0 to 10s; anything else is refused with the
// range and a hint.
func TestStoreDurationRanges(t *testing.T) {
	for _, c := range []struct {
		flag, rng string
		bad, good []string
	}{
		{"--commit-delay", "between 0s and 1s", []string{"2s", "-1ms"}, []string{"0", "500us", "2ms"}},
		{"--fsync-every", "between 0s and 10s", []string{"11s", "-1s"}, []string{"0", "200ms", "10s"}},
	} {
		for _, d := range c.bad {
			_, _, _, err := load(t, "", c.flag, d)
			var ue *usageError
			if err == nil || !strings.Contains(err.Error(), "must be a duration "+c.rng) || !errors.As(err, &ue) || ue.Hint == "" {
				t.Errorf("%s %s: err %v, want a usage error with the range and a hint", c.flag, d, err)
			}
		}
		for _, d := range c.good {
			if _, _, _, err := load(t, "", c.flag, d); err != nil {
				t.Errorf("%s %s: %v", c.flag, d, err)
			}
		}
	}
}

// A relay committing without a window still acknowledges only stored blobs: a put is acked
// and the blob is there to fetch.
func TestCommitDelayZeroServes(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "Z", "--commit-delay", "0")
	c := r.client()
	env := mkEnvelope(t, echo.Tag{}, time.Hour, []byte("no window"))
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	id, _, err := c.Put(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	items, _, _, err := c.Fetch(ctx, nil, 0, 10)
	if err != nil || len(items) != 1 || echo.BlobID(items[0].Envelope) != id {
		t.Fatalf("fetched %d items, %v", len(items), err)
	}
}

// With --fsync-every, lone puts are acknowledged without one fsync each (the status page counts
// the log's fsyncs), the relay says so in its log, and kill -9 loses nothing it acknowledged: the
// kernel holds what the killed process wrote. A power cut is the case it does not cover, which
// this machine cannot make.
func TestFsyncEveryServes(t *testing.T) {
	t.Parallel()
	r := startRelay(t, "F", "--fsync-every", "10s", "--commit-delay", "0")
	c := r.client()
	var ids []echo.ID
	for i := range 20 {
		env := mkEnvelope(t, echo.Tag{}, time.Hour, fmt.Appendf(nil, "lone blob %d", i))
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
		id, _, err := c.Put(ctx, env)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	c.Close()
	var st struct {
		Cache struct {
			Blobs      int64 `json:"blobs"`
			LogSyncs   int64 `json:"log_syncs"`
			FsyncEvery int64 `json:"fsync_every_ms"`
		} `json:"cache"`
	}
	r.statusInto(&st)
	if st.Cache.Blobs != 20 || st.Cache.LogSyncs >= 20 {
		t.Fatalf("20 lone puts: %d blobs stored, %d log fsyncs; want 20 and fewer than one each", st.Cache.Blobs, st.Cache.LogSyncs)
	}
	if st.Cache.FsyncEvery != 10000 {
		t.Errorf("/status cache.fsync_every_ms = %d, want 10000", st.Cache.FsyncEvery)
	}
	if !strings.Contains(r.log.String(), "acknowledged before their fsync") {
		t.Errorf("the relay did not say that acks come before the fsync:\n%s", r.log.String())
	}
	r.kill()
	r.start(r.port)
	c = r.client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	items, _, _, err := c.Fetch(ctx, nil, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	have := map[echo.ID]bool{}
	for _, it := range items {
		have[echo.BlobID(it.Envelope)] = true
	}
	for i, id := range ids {
		if !have[id] {
			t.Fatalf("blob %d (%s) acknowledged, gone after kill -9 and restart", i, id.Short())
		}
	}
}
