package web

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/echorelay/echorelay/internal/testutil"
)

// The browser tests run Debian's chromium headless, driven over the DevTools protocol, against
// relays in this process and the page served by Handler. Without chromium they skip, unless
// ECHORELAY_REQUIRE_BROWSER=1 (CI) makes that a failure. Screenshots go to
// $ECHORELAY_SCREENSHOTS when set (the README's come from there), else to a temporary
// directory.

const chromiumPath = "/usr/bin/chromium"

func needChromium(t *testing.T) string {
	t.Helper()
	if testutil.Emulated() {
		t.Skip("the browser is not emulated: the web client is checked by the native run")
	}
	for _, p := range []string{chromiumPath, "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("ECHORELAY_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium is required (ECHORELAY_REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium): the browser tests need it")
	return ""
}

// browser is one headless chromium with its own profile (its own IndexedDB).
type browser struct {
	t    *testing.T
	name string
	ctx  context.Context
	logs *testutil.Buffer
}

func newBrowser(t *testing.T, bin, name, profile string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.UserDataDir(profile),
		chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.WindowSize(390, 844))
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	logs := &testutil.Buffer{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value))
			}
			fmt.Fprintf(logs, "%s console.%s %s\n", name, e.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			fmt.Fprintf(logs, "%s exception %s\n", name, e.ExceptionDetails.Text)
		}
	}))
	b := &browser{t: t, name: name, ctx: ctx, logs: logs}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline (it lives as long as ctx)
		t.Fatalf("failed to start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		acancel()
		if t.Failed() {
			t.Logf("%s's console:\n%s", name, logs.String())
		}
	})
	return b
}

// run runs steps within a scaled deadline.
func (b *browser) run(limit time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testutil.Timeout(limit))
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\nconsole:\n%s", b.name, err, b.logs.String())
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testutil.Timeout(30*time.Second))
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %s: %v\nconsole:\n%s", b.name, expr, err, b.logs.String())
	}
	return v
}

// waitJS waits until the expression is true, polling with testutil's scaled deadline.
func (b *browser) waitJS(limit time.Duration, what, expr string) {
	b.t.Helper()
	testutil.Eventually(b.t, limit, b.name+": "+what, func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, testutil.Timeout(10*time.Second))
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		return err == nil && ok
	})
}

func (b *browser) waitScreen(limit time.Duration, screen string) {
	b.t.Helper()
	b.waitJS(limit, "the "+screen+" screen", "document.body.dataset.screen === '"+screen+"'")
}

func (b *browser) set(id, value string) {
	b.t.Helper()
	b.run(10*time.Second, chromedp.SetValue(chromedp.ID(id), value))
}

func (b *browser) click(id string) {
	b.t.Helper()
	b.run(10*time.Second, chromedp.Click(chromedp.ID(id), chromedp.NodeVisible))
}

func (b *browser) text(id string) string {
	b.t.Helper()
	return eval[string](b, "document.getElementById('"+id+"').textContent")
}

// create makes the identity with passphrase and returns the page's timing of it (ms).
func (b *browser) create(nick, pass string) float64 {
	b.t.Helper()
	b.waitScreen(60*time.Second, "create")
	b.set("create-nick", nick)
	eval[bool](b, `document.getElementById('create-nick').dispatchEvent(new Event('change'))`)
	b.set("create-pass", pass)
	b.set("create-pass2", pass)
	b.click("create-go")
	b.waitScreen(120*time.Second, "list")
	return eval[float64](b, "window.echorelayTimings.create.totalMs")
}

func (b *browser) openChat(friend string) {
	b.t.Helper()
	sel := `#friends button[data-friend="` + friend + `"]`
	b.waitJS(60*time.Second, friend+" in the list", `document.querySelector('`+sel+`')`)
	b.run(10*time.Second, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	b.waitScreen(30*time.Second, "chat")
}

func (b *browser) send(text string) {
	b.t.Helper()
	b.set("text", text)
	b.click("send")
	b.waitJS(60*time.Second, "the message on the relay",
		`[...document.querySelectorAll('#messages li.out')].some(li => li.firstChild.textContent === `+jsString(text)+` && li.dataset.state === 'relay')`)
}

func (b *browser) waitMessage(text string) {
	b.t.Helper()
	b.waitJS(60*time.Second, "the message "+text,
		`[...document.querySelectorAll('#messages li.in')].some(li => li.firstChild.textContent === `+jsString(text)+`)`)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// screenshot writes the page at phone or desktop width.
func (b *browser) screenshot(dir, name string, width, height int64) {
	b.t.Helper()
	b.run(30*time.Second, chromedp.EmulateViewport(width, height))
	ctx, cancel := context.WithTimeout(b.ctx, testutil.Timeout(30*time.Second))
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(buf)); err != nil {
		b.t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.run(10*time.Second, chromedp.EmulateViewport(390, 844))
}

func screenshotDir(t *testing.T) string {
	if d := os.Getenv("ECHORELAY_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// photo writes a small PNG picture (a gradient) and returns its path.
func photo(t *testing.T, name string) string {
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 3), 160, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Two browser profiles on two linked relays: each creates an identity, one invites, the other
// enters the code, they chat both ways and one sends a photo, which the other shows. Then a
// group of the two and a CLI user (groupChat). A reload keeps the identity, the history and
// the group; a wrong passphrase is refused. Screenshots of the main screens at phone and
// desktop width are written; the timings are reported.
func TestBrowsersChatAcrossLinkedRelays(t *testing.T) {
	bin := needChromium(t)
	wasm, exec := buildWasm(t)
	a := startRelay(t, wasm, exec)
	b := startRelay(t, wasm, exec)
	link(t, a, b)
	shots := screenshotDir(t)
	profileAna := t.TempDir()

	ana := newBrowser(t, bin, "ana", profileAna)
	ana.run(30*time.Second, chromedp.Navigate(a.web+"/"))
	ana.waitScreen(60*time.Second, "create")
	ana.screenshot(shots, "web-create-phone", 390, 844)
	createAna := ana.create("Ana", "correct horse battery")

	bo := newBrowser(t, bin, "bo", t.TempDir())
	bo.run(30*time.Second, chromedp.Navigate(b.web+"/"))
	createBo := bo.create("Bo", "staple battery horse")

	// Ana invites Bo; Bo types the code into the page of his own relay.
	ana.click("open-invite")
	ana.set("invite-name", "Bo")
	ana.click("invite-go")
	ana.waitJS(120*time.Second, "the invite", "!document.getElementById('invite-out').hidden")
	code := eval[string](ana, "document.getElementById('invite-code').value")
	link := eval[string](ana, "document.getElementById('invite-link').href")
	if !strings.HasPrefix(link, a.web+"/#invite=") || !strings.HasSuffix(link, code) {
		t.Fatalf("the invite link %q does not carry the code %q in its fragment", link, code)
	}
	ana.waitJS(30*time.Second, "the QR code", "document.getElementById('invite-qr').naturalWidth > 0")
	ana.screenshot(shots, "web-invite-phone", 390, 844)
	bo.click("open-join")
	bo.set("join-code", code)
	bo.set("join-name", "Ana")
	bo.click("join-go")
	bo.waitScreen(120*time.Second, "chat")

	// They write to each other through their relays' link.
	bo.send("hi Ana, it is Bo")
	ana.click("back")
	ana.openChat("Bo")
	ana.waitMessage("hi Ana, it is Bo")
	ana.send("hello Bo!")
	bo.waitMessage("hello Bo!")

	// Bo sends a photo; Ana's page shows it as a picture.
	bo.run(30*time.Second, chromedp.SetUploadFiles(chromedp.ID("attach"), []string{photo(t, "garden.png")}))
	bo.waitJS(60*time.Second, "the photo on the relay",
		`[...document.querySelectorAll('#messages li.out')].some(li => li.dataset.kind === 'file' && li.dataset.state === 'relay')`)
	ana.waitJS(60*time.Second, "the photo shown",
		`[...document.querySelectorAll('#messages li.in img')].some(img => img.alt === 'garden.png' && img.naturalWidth === 96)`)
	ana.screenshot(shots, "web-chat-phone", 390, 844)
	ana.screenshot(shots, "web-chat-desktop", 1280, 800)
	ana.click("back")
	ana.waitScreen(10*time.Second, "list")
	ana.screenshot(shots, "web-list-phone", 390, 844)
	ana.screenshot(shots, "web-list-desktop", 1280, 800)
	ana.openChat("Bo")
	ana.click("open-safety")
	ana.waitScreen(10*time.Second, "safety")
	if sn := ana.text("safety-number"); len(strings.ReplaceAll(sn, " ", "")) < 60 {
		t.Fatalf("safety number %q", sn)
	}
	safetyAna := ana.text("safety-number")
	bo.click("open-safety")
	bo.waitScreen(10*time.Second, "safety")
	if got := bo.text("safety-number"); got != safetyAna {
		t.Fatalf("the two safety numbers differ: %q and %q", safetyAna, got)
	}

	// A group of the two and a CLI user (webgroups_test.go).
	groupChat(t, ana, bo, a, b, shots)

	// The reads that brought exactly one text: what opening a received text costs, the relay's
	// round trips on loopback included.
	received := eval[string](ana, "JSON.stringify(window.echorelayTimings.receive)") + " and " +
		eval[string](bo, "JSON.stringify(window.echorelayTimings.receive)") + "; events the subscriptions brought: " +
		eval[string](ana, "String(window.echorelayTimings.pushed || 0)") + " and " + eval[string](bo, "String(window.echorelayTimings.pushed || 0)")

	// A reload keeps the identity: the page asks for the passphrase, refuses a wrong one and
	// opens the history with the right one.
	ana.run(30*time.Second, chromedp.Reload())
	ana.waitScreen(60*time.Second, "unlock")
	ana.set("unlock-pass", "not the passphrase")
	ana.click("unlock-go")
	ana.waitJS(60*time.Second, "the refusal", "document.getElementById('unlock-error').textContent === 'wrong passphrase'")
	if s := ana.text("unlock-error"); s != "wrong passphrase" {
		t.Fatalf("wrong passphrase: %q", s)
	}
	ana.set("unlock-pass", "correct horse battery")
	ana.click("unlock-go")
	ana.waitScreen(60*time.Second, "list")
	unlockMs := eval[float64](ana, "window.echorelayTimings.unlock")
	ana.openChat("Bo")
	ana.waitMessage("hi Ana, it is Bo")
	ana.waitJS(30*time.Second, "the photo after the reload",
		`[...document.querySelectorAll('#messages li.in img')].some(img => img.naturalWidth === 96)`)
	// The ratchet sessions came back too: both write on after the reload.
	bo.click("back")
	bo.waitScreen(10*time.Second, "list")
	bo.openChat("Ana")
	bo.send("still there after your reload?")
	ana.waitMessage("still there after your reload?")
	ana.send("yes, my keys stayed")
	bo.waitMessage("yes, my keys stayed")
	groupAfterReload(t, ana, bo) // and the group's

	for _, b := range []*browser{ana, bo} {
		if v := eval[string](b, "JSON.stringify(window.echorelayCSPViolations)"); v != "[]" {
			t.Fatalf("%s's page broke its Content-Security-Policy: %s", b.name, v)
		}
	}
	loadBytes := eval[float64](ana, "window.echorelayTimings.loadBytes")
	t.Logf("figures (wall clock of this run, reported, not asserted): identity creation %.0f ms and %.0f ms; "+
		"unlock after reload %.0f ms; reads of the relay that brought something (ms, events, texts): %s; module %d bytes gzipped, %.0f bytes decoded",
		createAna, createBo, unlockMs, received, gzLen(wasm), loadBytes)
	t.Logf("screenshots in %s", shots)
}

func gzLen(raw []byte) int {
	w, err := wasmFromRaw(raw, []byte{})
	if err != nil {
		return -1
	}
	return int(w.size)
}

// evalAwait evaluates a JavaScript expression that gives a promise, and waits for it.
func evalAwait[T any](b *browser, limit time.Duration, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, testutil.Timeout(limit))
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// The backup is the identity file: exported from one browser, it restores the same identity
// in another only with its passphrase. A changed passphrase unlocks after a reload; the old
// one no longer does.
func TestBrowserBackupAndPassphrase(t *testing.T) {
	bin := needChromium(t)
	wasm, exec := buildWasm(t)
	a := startRelay(t, wasm, exec)
	one := newBrowser(t, bin, "one", t.TempDir())
	one.run(30*time.Second, chromedp.Navigate(a.web+"/"))
	one.create("One", "first passphrase")
	fp, err := evalAwait[string](one, 30*time.Second, "echorelayCall('status').then(s => s.fingerprint)")
	if err != nil || len(fp) != 64 {
		t.Fatalf("fingerprint %q, %v", fp, err)
	}
	backup, err := evalAwait[string](one, 30*time.Second, "echorelayCall('export').then(b => { let s = ''; for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192)); return btoa(s); })")
	if err != nil || len(backup) < 1000 {
		t.Fatalf("export: %d base64 characters, %v", len(backup), err)
	}

	two := newBrowser(t, bin, "two", t.TempDir())
	two.run(30*time.Second, chromedp.Navigate(a.web+"/"))
	two.waitScreen(60*time.Second, "create")
	imp := func(pass string) (string, error) {
		return evalAwait[string](two, 60*time.Second, "echorelayCall('import', {data: Uint8Array.from(atob('"+backup+
			"'), c => c.charCodeAt(0)), passphrase: "+jsString(pass)+"}).then(r => r.fingerprint)")
	}
	if _, err := imp("not it"); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("import with a wrong passphrase: %v", err)
	}
	if got, err := imp("first passphrase"); err != nil || got != fp {
		t.Fatalf("import: %q, %v; want %q", got, err, fp)
	}

	if _, err := evalAwait[any](one, 60*time.Second, "echorelayCall('passwd', {old: 'first passphrase', new: 'second passphrase'})"); err != nil {
		t.Fatalf("passwd: %v", err)
	}
	one.run(30*time.Second, chromedp.Reload())
	one.waitScreen(60*time.Second, "unlock")
	one.set("unlock-pass", "first passphrase")
	one.click("unlock-go")
	one.waitJS(60*time.Second, "the old passphrase refused", "document.getElementById('unlock-error').textContent === 'wrong passphrase'")
	one.set("unlock-pass", "second passphrase")
	one.click("unlock-go")
	one.waitScreen(60*time.Second, "list")
}

// Opened over plain http at a LAN name (not this computer's loopback), the page says what
// that means; the client still starts, and its relay address is that name with the relay's
// port, which is what it will put in invites.
func TestBrowserSaysPlainHTTP(t *testing.T) {
	bin := needChromium(t)
	wasm, exec := buildWasm(t)
	a := startRelay(t, wasm, exec)
	port := strings.TrimPrefix(a.web, "http://127.0.0.1:")
	b := newBrowser(t, bin, "lan", t.TempDir(), chromedp.Flag("host-resolver-rules", "MAP school.lan 127.0.0.1"))
	b.run(30*time.Second, chromedp.Navigate("http://school.lan:"+port+"/"))
	b.waitScreen(60*time.Second, "create")
	if !eval[bool](b, "!document.getElementById('http-warning').hidden") {
		t.Fatal("the page over plain http on the LAN does not warn")
	}
	if got := eval[string](b, "document.getElementById('http-warning').textContent"); !strings.Contains(got, "could have changed it") {
		t.Fatalf("the warning says %q", got)
	}
	relay, err := evalAwait[string](b, 30*time.Second, "fetch('/relay.json').then(r => r.json()).then(j => j.relay)")
	if err != nil || relay != "school.lan:"+strconv.Itoa(a.node.Port()) {
		t.Fatalf("the page's relay address: %q, %v", relay, err)
	}
}
