package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
)

// findChromium returns the path of Debian's chromium (or a Chrome) binary, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium runs a headless browser once with a fresh profile and no network beyond the URL.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(90*time.Second))
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// A real browser loads the status page as a phone would (420 px wide) and draws it: the DOM
// has the neighbour table with the neighbour's name, and the screenshot is a real picture.
// Skips without chromium unless ECHORELAY_REQUIRE_BROWSER=1 (CI sets it; scripts/test installs
// chromium there).
func TestStatusPageInHeadlessBrowser(t *testing.T) {
	t.Parallel()
	if len(execWrapper) > 0 {
		t.Skip("the browser is not emulated: the status page is checked by the native run")
	}
	bin := findChromium()
	if bin == "" {
		if os.Getenv("ECHORELAY_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium is not installed but ECHORELAY_REQUIRE_BROWSER=1: apt-get install chromium")
		}
		t.Skip("chromium is not installed: skipping the browser test (apt-get install chromium; ECHORELAY_REQUIRE_BROWSER=1 makes this a failure)")
	}
	a := startRelay(t, "A", "--name", "browser test relay", "--history-interval", "1s")
	b := startRelay(t, "B")
	dead := closedTCPPort(t) // over TCP+TLS the refusal is immediate
	a.labelledPeers(fmt.Sprintf("127.0.0.1:%d %s # classroom pi", b.port, b.fp),
		fmt.Sprintf("tls://127.0.0.1:%d # library laptop", dead))
	b.setPeers(a)
	a.waitNeighbours(1)
	cl := a.client()
	var tag echo.Tag
	rand.Read(tag[:])
	for i := range 3 {
		if _, _, err := cl.Put(context.Background(), mkEnvelope(t, tag, time.Hour, []byte(fmt.Sprintf("blob %d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	// A few graph samples, and the dead neighbour's error, before the browser looks.
	poll(t, "graph samples and the dead neighbour's error", func() string {
		s, _ := a.fullStatus()
		if len(s.History.BlobsIn) < 4 {
			return fmt.Sprintf("%d samples", len(s.History.BlobsIn))
		}
		for _, nb := range s.Neighbours {
			if nb.Peer == "library laptop" && nb.LastError != "" {
				return ""
			}
		}
		return fmt.Sprintf("no error for the library laptop: %+v", s.Neighbours)
	})
	url := "http://" + a.admin + "/"

	// --dump-dom prints the DOM the browser built (as HTML, not XML).
	dom := string(runChromium(t, bin, "--dump-dom", url))
	table := regexp.MustCompile(`(?s)<table id="neighbours">.*?</table>`).FindString(dom)
	if !strings.Contains(table, `<tr class="neighbour up">`) || !strings.Contains(table, "classroom pi") {
		t.Errorf("the browser's DOM has no neighbour table with the classroom pi up:\n%s", dom)
	}
	for _, want := range []string{"Working, but not connected to 1 of 2 neighbours", "browser test relay", "<svg",
		"Relay ID (give it to neighbours who link to you)", "passes locked (end-to-end encrypted) messages",
		"not reachable since", "Refused: is echorelay running there?", "since connected",
		`<div class="axis"><span>1 min ago</span> <span>30 s ago</span> <span>now</span></div>`, "per min</span>",
		"Every message is saved to the SD card before the relay confirms it."} {
		if !strings.Contains(dom, want) {
			t.Errorf("the browser's DOM lacks %q:\n%s", want, dom)
		}
	}
	if n := strings.Count(dom, "<details>"); n < 4 || strings.Contains(dom, "<details open") {
		t.Errorf("%d closed <details> in the DOM (want the technical parts in closed details)", n)
	}
	if ips := findIPs(dom); len(ips) > 0 {
		t.Errorf("the rendered page shows %v", ips)
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	// Phone width, tall enough for the whole page: header, neighbours, storage and graphs.
	runChromium(t, bin, "--screenshot="+shot, "--window-size=420,2200", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X < 400 || sz.Y < 2000 {
		t.Errorf("screenshot is %v, want about 420x2200", sz)
	}
	if n := colours(img); n < 8 {
		t.Errorf("screenshot has %d colours: the page did not render", n)
	}
	// The page's CSS was applied: the "warn" orange (#b35900 light, #d29922 dark) of the
	// verdict's border and the dead neighbour's dot, and the "working" green (#1a7f37 light,
	// #3fb950 dark) of the live neighbour's dot are on screen.
	if n := countNear(img, 0xb3, 0x59, 0x00) + countNear(img, 0xd2, 0x99, 0x22); n < 50 {
		t.Errorf("only %d orange pixels: the verdict and the dead neighbour's dot are not drawn as styled", n)
	}
	if n := countNear(img, 0x1a, 0x7f, 0x37) + countNear(img, 0x3f, 0xb9, 0x50); n < 20 {
		t.Errorf("only %d green pixels: the live neighbour's dot is not drawn as styled", n)
	}
	// The graphs are drawn: their lines in the accent blue (#0969da light, #58a6ff dark).
	if n := countNear(img, 0x09, 0x69, 0xda) + countNear(img, 0x58, 0xa6, 0xff); n < 300 {
		t.Errorf("only %d blue pixels: the graphs are not drawn", n)
	}
	if dir := os.Getenv("ECHORELAY_SCREENSHOT_DIR"); dir != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(filepath.Join(dir, "status-page.png"), b, 0o644)
	}
}

// countNear counts pixels within 10 per channel of the colour r, g, b.
func countNear(img image.Image, r, g, b uint8) int {
	n := 0
	near := func(c uint32, want uint8) bool { d := int(c>>8) - int(want); return d > -10 && d < 10 }
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, r) && near(cg, g) && near(cb, b) {
				n++
			}
		}
	}
	return n
}

// colours counts distinct colours, up to 1000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			c1, c2, c3, c4 := img.At(x, y).RGBA()
			seen[[4]uint32{c1, c2, c3, c4}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
