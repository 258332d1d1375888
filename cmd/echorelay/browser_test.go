package main

import (
	"bytes"
	"context"
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
	a := startRelay(t, "A", "--name", "browser test relay")
	b := startRelay(t, "B")
	a.labelledPeers(fmt.Sprintf("127.0.0.1:%d %s # classroom pi", b.port, b.fp))
	b.setPeers(a)
	a.waitNeighbours(1)
	url := "http://" + a.admin + "/"

	// --dump-dom prints the DOM the browser built (as HTML, not XML).
	dom := string(runChromium(t, bin, "--dump-dom", url))
	table := regexp.MustCompile(`(?s)<table id="neighbours">.*?</table>`).FindString(dom)
	if !strings.Contains(table, `<tr class="neighbour up">`) || !strings.Contains(table, "classroom pi") {
		t.Errorf("the browser's DOM has no neighbour table with the classroom pi up:\n%s", dom)
	}
	for _, want := range []string{"Working: 1 neighbour connected", "browser test relay", "<svg"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the browser's DOM lacks %q:\n%s", want, dom)
		}
	}
	if ips := findIPs(dom); len(ips) > 0 {
		t.Errorf("the rendered page shows %v", ips)
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=420,900", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X < 400 || sz.Y < 800 {
		t.Errorf("screenshot is %v, want about 420x900", sz)
	}
	if n := colours(img); n < 8 {
		t.Errorf("screenshot has %d colours: the page did not render", n)
	}
	// The page's CSS was applied: the "working" green (#1a7f37 light, #3fb950 dark) of the
	// verdict's border and the neighbour's dot is on screen.
	if n := countNear(img, 0x1a, 0x7f, 0x37) + countNear(img, 0x3f, 0xb9, 0x50); n < 50 {
		t.Errorf("only %d green pixels: the verdict and the neighbour's dot are not drawn as styled", n)
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
