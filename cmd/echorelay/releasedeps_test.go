package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// heavyPackages must stay out of the release build: text/template's method lookup by name
// makes the linker keep every exported method of every reachable type (megabytes), and the
// profiler is in -tags pprof builds only. net/http was on this list while the arm64 budget was
// 12 MB; since issue #20 every HTTP listener uses it (budget 20 MiB with the web client).
// scripts/test runs the same check.
var heavyPackages = []string{"net/http/pprof", "runtime/pprof", "html/template", "text/template"}

// The default build of echorelay links none of heavyPackages, on the release platforms. It
// needs the go tool, as TestMain does (which builds the binary), so it never skips.
func TestReleaseBuildLinksNoTemplates(t *testing.T) {
	t.Parallel()
	for _, target := range [][]string{{"linux", "arm64", ""}, {"linux", "arm", "6"}, {"android", "arm64", ""}, {"linux", "amd64", ""}} {
		cmd := exec.Command("go", "list", "-tags=", "-deps", ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+target[0], "GOARCH="+target[1], "GOARM="+target[2])
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list for %s/%s: %v", target[0], target[1], err)
		}
		deps := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			deps[p] = true
		}
		if !deps["net"] || !deps["net/url"] {
			t.Fatalf("go list for %s/%s printed no dependency list: %q", target[0], target[1], out)
		}
		for _, p := range heavyPackages {
			if deps[p] {
				t.Errorf("the %s/%s release build links %s again: see heavyPackages", target[0], target[1], p)
			}
		}
	}
}
