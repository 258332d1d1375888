package web

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/echorelay/echorelay/internal/qr"
	"github.com/echorelay/echorelay/internal/testutil"
)

var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
)

// buildCLI builds the echorelay command once per test run (into the run's wasm directory).
func buildCLI(t *testing.T) string {
	t.Helper()
	buildWasm(t) // makes wasmDir
	cliOnce.Do(func() {
		cliBin = filepath.Join(wasmDir, "echorelay")
		cmd := exec.Command("go", "build", "-o", cliBin, "../../cmd/echorelay")
		if b, err := cmd.CombinedOutput(); err != nil {
			cliErr = &buildError{err, string(b)}
		}
	})
	if cliErr != nil {
		t.Fatalf("failed to build echorelay: %v", cliErr)
	}
	return cliBin
}

// cli runs the echorelay command with a home of its own and returns its output.
type cli struct {
	t     *testing.T
	bin   string
	home  string
	inbox strings.Builder // what every inbox of inboxUntil printed
}

func (c *cli) run(args ...string) string {
	c.t.Helper()
	out, err := c.try(args...)
	if err != nil {
		c.t.Fatalf("echorelay %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cli) try(args ...string) (string, error) {
	cmd := exec.Command(c.bin, append(args, "--home", c.home)...)
	cmd.Env = append(os.Environ(), "ECHORELAY_PASSPHRASE=", "ECHORELAY_HOME=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(testutil.Timeout(2 * time.Minute)):
		cmd.Process.Kill()
		<-done
		return out.String(), os.ErrDeadlineExceeded
	}
}

// inboxUntil runs `echorelay inbox` until its output, gathered over all the runs of this cli so
// far, contains want; it returns that output.
func (c *cli) inboxUntil(want string) string {
	c.t.Helper()
	if !strings.Contains(c.inbox.String(), want) && !testutil.Poll(60*time.Second, func() bool {
		out, err := c.try("inbox")
		c.inbox.WriteString(out)
		return err == nil && strings.Contains(c.inbox.String(), want)
	}) {
		c.t.Fatalf("the CLI's inbox did not show %q; it said:\n%s", want, c.inbox.String())
	}
	return c.inbox.String()
}

// decodeQR reads the link a phone's camera would read from the QR code of link: the code
// internal/qr draws, decoded by zbarimg (Debian's zbar-tools), an independent reader. Without
// zbarimg the link itself is used and the test says so.
func decodeQR(t *testing.T, link string) string {
	t.Helper()
	code, err := qr.Encode([]byte(link))
	if err != nil {
		t.Fatalf("the invite link (%d bytes) does not fit a QR code: %v", len(link), err)
	}
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Logf("zbarimg not installed: the QR code is not decoded, its link is used as is")
		return link
	}
	f := filepath.Join(t.TempDir(), "invite.pbm")
	if err := os.WriteFile(f, code.PBM(4), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "-q", "--raw", f).Output()
	if err != nil {
		t.Fatalf("zbarimg could not read the invite's QR code: %v", err)
	}
	got := strings.TrimSuffix(string(out), "\n")
	if got != link {
		t.Fatalf("the QR code reads %q, not %q", got, link)
	}
	return got
}

// The "done when": a user with nothing but a browser joins a conversation from a QR
// code and chats with a CLI user through two linked relays. The CLI user (the real echorelay
// command, its home relay B) invites; the QR code carries a link to relay A's web client with
// the code in the fragment; the browser opens it, makes an identity, joins and writes; the CLI
// reads it, answers, sends a photo; the browser shows it and sends one back, which the CLI
// saves byte for byte.
func TestBrowserJoinsCLIFromQRCode(t *testing.T) {
	bin := needChromium(t)
	wasm, exec := buildWasm(t)
	a := startRelay(t, wasm, exec)
	b := startRelay(t, wasm, exec)
	link(t, a, b)
	sam := &cli{t: t, bin: buildCLI(t), home: t.TempDir()}
	sam.run("id", "new", "--no-passphrase")
	out := sam.run("friend", "invite", "--relay", b.addr(), "--name", "Web")
	m := regexp.MustCompile(`invite code: ([A-Z2-7]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no invite code in:\n%s", out)
	}
	scanned := decodeQR(t, a.web+"/#invite="+m[1])

	kim := newBrowser(t, bin, "kim", t.TempDir())
	kim.run(30*time.Second, chromedp.Navigate(scanned))
	kim.create("Kim", "kim's long passphrase")
	kim.waitJS(10*time.Second, "the invite from the link", "!document.getElementById('join-banner').hidden")
	if eval[string](kim, "location.hash") != "" {
		t.Fatal("the code stays in the address bar after it was read")
	}
	kim.set("join-name-b", "Sam")
	kim.click("join-go-b")
	kim.waitScreen(120*time.Second, "chat")
	sam.inboxUntil("friend added: Web accepted your invite")

	kim.send("hello from the browser")
	sam.inboxUntil("hello from the browser")
	sam.run("send", "Web", "-m", "hello from the terminal")
	kim.waitMessage("hello from the terminal")

	pic := photo(t, "from-sam.png")
	sam.run("send", "Web", pic)
	kim.waitJS(60*time.Second, "Sam's photo shown",
		`[...document.querySelectorAll('#messages li.in img')].some(img => img.alt === 'from-sam.png' && img.naturalWidth === 96)`)

	mine := photo(t, "from-kim.png")
	kim.run(30*time.Second, chromedp.SetUploadFiles(chromedp.ID("attach"), []string{mine}))
	sam.inboxUntil("file from-kim.png")
	t.Logf("figures (reported, not asserted): the browser's reads of the relay that brought something (ms, events, texts): %s",
		eval[string](kim, "JSON.stringify(window.echorelayTimings.receive)"))
	want, _ := os.ReadFile(mine)
	got, err := os.ReadFile(filepath.Join(sam.home, "files", "from-kim.png"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the CLI saved the browser's photo as %d bytes (%v), sent %d", len(got), err, len(want))
	}
}
