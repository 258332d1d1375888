package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/peers"
)

// The end-to-end tests start the real echorelay binary, built once in TestMain, as a user
// runs it: separate processes, real SQLite files, real QUIC on loopback.

var binPath string

// execWrapper runs the binary under an emulator when the tests themselves run emulated
// (scripts/test-arm sets ECHORELAY_EXEC_WRAPPER, e.g. "qemu-aarch64").
var execWrapper = strings.Fields(os.Getenv("ECHORELAY_EXEC_WRAPPER"))

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "echorelay-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "echorelay")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "failed to build echorelay: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// The in-process part of the tests (clients, subscriptions, fake neighbours, the idle
	// trim) must leave no goroutine behind; the relays themselves are separate processes.
	testutil.VerifyNoLeaks(m, func() { os.RemoveAll(dir) })
}

func relayCommand(args ...string) *exec.Cmd { return binCommand(binPath, args...) }

// binCommand runs another echorelay binary (e.g. a developer build, pprofBinary).
func binCommand(bin string, args ...string) *exec.Cmd {
	all := append(append(append([]string(nil), execWrapper...), bin), args...)
	return exec.Command(all[0], all[1:]...)
}

type relayProc struct {
	t      *testing.T
	name   string
	dir    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
	port   int
	admin  string
	fp     string
	echo   string // Echo listener address, if any
	web    string // web client listener address
	log    *testutil.Buffer
	bin    string // binPath when ""
}

type readyInfo struct {
	Port        int    `json:"port"`
	Admin       string `json:"admin"`
	Fingerprint string `json:"fingerprint"`
	Echo        string `json:"echo"` // Echo listener, when --echo-listen was given
	Web         string `json:"web"`
}

// startRelay starts `echorelay serve` on 127.0.0.1 with a fresh data dir and waits until it
// serves.
func startRelay(t *testing.T, name string, args ...string) *relayProc {
	t.Helper()
	return startRelayBin(t, "", name, args...)
}

// startRelayBin is startRelay with another binary; "" is the default build.
func startRelayBin(t *testing.T, bin, name string, args ...string) *relayProc {
	t.Helper()
	r := &relayProc{t: t, name: name, dir: t.TempDir(), args: args, bin: bin}
	r.start(0)
	t.Cleanup(func() {
		r.stop()
		if t.Failed() && os.Getenv("ECHORELAY_TEST_LOGS") != "" {
			t.Logf("log of %s:\n%s", r.name, r.log.String())
		}
	})
	return r
}

func (r *relayProc) start(port int) {
	r.t.Helper()
	ready := filepath.Join(r.dir, "ready.json")
	os.Remove(ready)
	args := append([]string{"serve", "--data", r.dir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--admin", "127.0.0.1:0", "--ready-file", ready, "--log-level", "debug"}, r.args...)
	r.cmd = relayCommand(args...)
	if r.bin != "" {
		r.cmd = binCommand(r.bin, args...)
	}
	r.log = &testutil.Buffer{}
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("%s: %v", r.name, err)
	}
	r.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(r.cmd, r.exited)
	var info readyInfo
	exited := false
	ok := testutil.Poll(20*time.Second, func() bool {
		select {
		case <-r.exited:
			exited = true
			return true
		default:
		}
		b, err := os.ReadFile(ready)
		return err == nil && json.Unmarshal(b, &info) == nil && info.Port != 0
	})
	switch {
	case exited:
		r.t.Fatalf("%s exited during start:\n%s", r.name, r.log.String())
	case !ok:
		r.t.Fatalf("%s did not become ready within %v:\n%s", r.name, testutil.Timeout(20*time.Second), r.log.String())
	}
	r.port, r.admin, r.fp, r.echo, r.web = info.Port, info.Admin, info.Fingerprint, info.Echo, info.Web
}

func (r *relayProc) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// stop sends SIGTERM and waits for a clean exit (then SIGKILL as a last resort).
func (r *relayProc) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(testutil.Timeout(15 * time.Second)):
		r.cmd.Process.Kill()
		<-r.exited
		r.t.Errorf("%s did not stop on SIGTERM:\n%s", r.name, r.log.String())
	}
}

func (r *relayProc) kill() {
	r.cmd.Process.Kill()
	<-r.exited
}

// restart stops the relay and starts it again on the same port and data dir.
func (r *relayProc) restart() {
	r.stop()
	r.start(r.port)
}

// setPeers writes the peers file and sends SIGHUP.
func (r *relayProc) setPeers(ns ...*relayProc) {
	var b strings.Builder
	b.WriteString("# written by the test\n")
	for _, n := range ns {
		fmt.Fprintf(&b, "%s %s\n", n.addr(), n.fp)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "peers"), []byte(b.String()), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.cmd.Process.Signal(syscall.SIGHUP)
}

type statusDoc struct {
	NeighboursUp int `json:"neighbours_up"`
	Cache        struct {
		Blobs int64 `json:"blobs"`
		Bytes int64 `json:"bytes"`
	} `json:"cache"`
	Received   int64            `json:"blobs_received"`
	Stored     int64            `json:"blobs_stored"`
	Duplicates int64            `json:"blobs_duplicate"`
	Relayed    int64            `json:"blobs_relayed"`
	Rejects    map[string]int64 `json:"rejects"`
	Neighbours []struct {
		Peer  string `json:"peer"`
		State string `json:"state"`
	} `json:"neighbours"`
}

func (r *relayProc) status() statusDoc {
	r.t.Helper()
	resp, err := http.Get("http://" + r.admin + "/status")
	if err != nil {
		r.t.Fatalf("%s status: %v", r.name, err)
	}
	defer resp.Body.Close()
	var s statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		r.t.Fatalf("%s status: %v", r.name, err)
	}
	return s
}

// statusWait bounds waitFor. A link that comes up may first need a second dial: a QUIC
// handshake that misses the relay's fixed 10 s deadline (peers.HandshakeTimeout) on a loaded
// machine is retried after a backoff of up to 1 s (then 2 s).
const statusWait = 40 * time.Second

// waitFor polls the relay's status until cond holds (bounded by testutil.Timeout(statusWait)).
func (r *relayProc) waitFor(what string, cond func(statusDoc) bool) {
	r.t.Helper()
	var s statusDoc
	if !testutil.Poll(statusWait, func() bool { s = r.status(); return cond(s) }) {
		r.t.Fatalf("%s: timed out after %v waiting for %s; status %+v\n%s", r.name, testutil.Timeout(statusWait), what, s, r.log.String())
	}
}

func (r *relayProc) waitNeighbours(n int) {
	r.t.Helper()
	r.waitFor(fmt.Sprintf("%d neighbours up", n), func(s statusDoc) bool { return s.NeighboursUp == n })
}

func (r *relayProc) client() *peers.Client {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
	defer cancel()
	c, err := peers.DialClient(ctx, r.addr())
	if err != nil {
		r.t.Fatalf("%s: %v", r.name, err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

// subscribe delivers every blob the relay stores from now on (after the backlog) to a channel.
func (r *relayProc) subscribe(tags ...echo.Tag) <-chan echo.Item {
	r.t.Helper()
	c := r.client()
	ch := make(chan echo.Item, 4096)
	caught := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() {
		ended <- c.Subscribe(ctx, tags, 0, func(it echo.Item) {
			select {
			case ch <- it:
			default:
			}
		}, func() { once.Do(func() { close(caught) }) })
	}()
	// Runs before the client's Close (cleanups run last first): the subscription ends with
	// the test, so no goroutine outlives it.
	r.t.Cleanup(func() {
		cancel()
		select {
		case <-ended:
		case <-time.After(testutil.Timeout(10 * time.Second)):
			r.t.Errorf("%s: the subscription did not end when cancelled", r.name)
		}
	})
	select {
	case <-caught:
	case err := <-ended:
		ended <- err // for the cleanup
		r.t.Fatalf("%s: subscription ended before it started: %v", r.name, err)
	case <-time.After(testutil.Timeout(10 * time.Second)):
		r.t.Fatalf("%s: subscription did not start", r.name)
	}
	return ch
}

func waitItem(t *testing.T, ch <-chan echo.Item, want echo.ID) {
	t.Helper()
	timeout := time.After(testutil.Timeout(20 * time.Second))
	for {
		select {
		case it := <-ch:
			if echo.BlobID(it.Envelope) == want {
				return
			}
		case <-timeout:
			t.Fatalf("blob %s did not arrive", want.Short())
		}
	}
}

// runCLI runs an echorelay client command and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := relayCommand(args...)
	// Test identities need no passphrase (Argon2id on every command would cost seconds);
	// TestMessagingCLIMistakes checks the default without this.
	cmd.Env = append(os.Environ(), "ECHORELAY_NO_PASSPHRASE=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func mkEnvelope(t *testing.T, tag echo.Tag, ttl time.Duration, payload []byte) []byte {
	t.Helper()
	e := echo.Envelope{Expiry: time.Now().Add(ttl).Unix(), Tag: tag, Payload: payload}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// statusInto decodes the relay's /status into v (for fields statusDoc does not name).
func (r *relayProc) statusInto(v any) {
	r.t.Helper()
	resp, err := http.Get("http://" + r.admin + "/status")
	if err != nil {
		r.t.Fatalf("%s status: %v", r.name, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		r.t.Fatalf("%s status: %v", r.name, err)
	}
}

var hupSignal = syscall.SIGHUP
