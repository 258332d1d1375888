package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/relayd"
	"github.com/echorelay/echorelay/internal/testutil"
)

// httpGet fetches a URL on loopback and returns status code and body.
func httpGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// closedTCPPort returns a loopback port where nothing listens (it was free a moment ago).
func closedTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// labelledPeers writes r's peers file with a comment after each line and sends SIGHUP.
func (r *relayProc) labelledPeers(lines ...string) {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "peers"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.cmd.Process.Signal(syscall.SIGHUP)
}

// fullStatus is /status with the fields this file checks beyond the harness's statusDoc.
type fullStatus struct {
	statusDoc
	Name       string `json:"name"`
	Neighbours []struct {
		Peer      string `json:"peer"`
		State     string `json:"state"`
		LastError string `json:"last_error"`
		Address   string `json:"address"`
		BlobsOut  int64  `json:"blobs_out"`
	} `json:"neighbours"`
	History historyView `json:"history"`
}

func (r *relayProc) fullStatus() (fullStatus, string) {
	r.t.Helper()
	code, body := httpGet(r.t, "http://"+r.admin+"/status")
	if code != 200 {
		r.t.Fatalf("%s /status: %d %s", r.name, code, body)
	}
	var s fullStatus
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		r.t.Fatalf("%s /status: %v", r.name, err)
	}
	return s, body
}

func (r *relayProc) metrics() map[string]*promFamily {
	r.t.Helper()
	code, body := httpGet(r.t, "http://"+r.admin+"/metrics")
	if code != 200 {
		r.t.Fatalf("%s /metrics: %d", r.name, code)
	}
	fams, err := parseExposition(body)
	if err != nil {
		r.t.Fatalf("%s /metrics is not valid exposition format: %v\n%s", r.name, err, body)
	}
	return fams
}

// poll retries check until it returns "" (bounded), then fails with its last complaint.
func poll(t *testing.T, what string, check func() string) {
	t.Helper()
	var msg string
	if !testutil.Poll(20*time.Second, func() bool { msg = check(); return msg == "" }) {
		t.Fatalf("timed out after %v waiting for %s: %s", testutil.Timeout(20*time.Second), what, msg)
	}
}

// A relay with a live and a dead neighbour: /status, /metrics and the page follow the blobs,
// name the neighbours by their peers-file comments, explain the dead one in plain words, and
// show no IP address and no mailbox tag; `echorelay status` prints the same.
func TestStatusPageFollowsTraffic(t *testing.T) {
	t.Parallel()
	a := startRelay(t, "A", "--history-interval", "1s", "--name", "school relay")
	b := startRelay(t, "B")
	dead := closedTCPPort(t) // over TCP+TLS the refusal is immediate
	a.labelledPeers(
		fmt.Sprintf("127.0.0.1:%d %s   # classroom pi", b.port, b.fp),
		fmt.Sprintf("tls://127.0.0.1:%d      # library laptop", dead))
	b.setPeers(a)
	a.waitNeighbours(1)
	b.waitNeighbours(1)

	before := a.metrics()
	if v := metric(t, before, "echorelay_blobs_received_total", ""); v != 0 {
		t.Fatalf("received %v before any put", v)
	}

	var tag echo.Tag
	rand.Read(tag[:])
	const n = 5
	cl := a.client()
	for i := range n {
		if _, _, err := cl.Put(context.Background(), mkEnvelope(t, tag, time.Hour, []byte(fmt.Sprintf("blob %d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	b.waitFor("the blobs", func(s statusDoc) bool { return s.Stored == n })

	// The graphs see the traffic within a few samples, and the dead neighbour has an error.
	var s fullStatus
	var body string
	poll(t, "the history and the dead neighbour's error", func() string {
		s, body = a.fullStatus()
		sum := 0.0
		for _, v := range s.History.BlobsIn {
			sum += v
		}
		if sum == 0 {
			return fmt.Sprintf("no blobs in the history %v", s.History.BlobsIn)
		}
		for _, nb := range s.Neighbours {
			if nb.Peer == "library laptop" && nb.LastError != "" {
				return ""
			}
		}
		return fmt.Sprintf("no error for the library laptop: %+v", s.Neighbours)
	})
	if s.Name != "school relay" || s.Received != n || s.Stored != n || s.Cache.Blobs != n || s.Relayed < n {
		t.Errorf("status after %d puts: %+v", n, s)
	}
	names := map[string]string{}
	for _, nb := range s.Neighbours {
		if nb.Address != "" {
			t.Errorf("an address is shown without --admin-show-addresses: %+v", nb)
		}
		if nb.Peer == "classroom pi" && nb.State == "up" {
			names[nb.Peer] = nb.State
		}
		if nb.Peer == "library laptop" {
			names[nb.Peer] = nb.LastError
			if nb.LastError != "refused: is echorelay running there?" {
				t.Errorf("the dead neighbour's error in plain words: %q", nb.LastError)
			}
			if nb.State == "up" {
				t.Errorf("the dead neighbour is up")
			}
		}
	}
	if names["classroom pi"] != "up" || names["library laptop"] == "" {
		t.Errorf("neighbours %+v", s.Neighbours)
	}
	tagHex := hex.EncodeToString(tag[:])

	after := a.metrics()
	for name, want := range map[string]float64{"echorelay_blobs_received_total": n, "echorelay_blobs_stored_total": n, "echorelay_cache_blobs": n} {
		if got := metric(t, after, name, ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metric(t, after, "echorelay_neighbour_up", `{link="dialed",neighbour="classroom pi"}`); got != 1 {
		t.Errorf("classroom pi up = %v", got)
	}
	if got := metric(t, after, "echorelay_neighbour_up", `{link="dialed",neighbour="library laptop"}`); got != 0 {
		t.Errorf("library laptop up = %v", got)
	}
	if got := metric(t, after, "echorelay_cache_bytes", ""); got <= metric(t, before, "echorelay_cache_bytes", "") {
		t.Errorf("cache bytes did not grow: %v", got)
	}

	code, page := httpGet(t, "http://"+a.admin+"/")
	if code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	doc := parseHTML(t, page)
	rows := doc.All("tr", "neighbour")
	var rowText []string
	for _, r := range rows {
		rowText = append(rowText, r.Text())
	}
	all := strings.Join(rowText, "\n")
	if !doc.Has("table", "neighbours") || !strings.Contains(all, "classroom pi") || !strings.Contains(all, "library laptop") || !strings.Contains(all, "connected") {
		t.Errorf("neighbour rows:\n%s", all)
	}
	if got := doc.ByID("blobs-received").Text(); got != fmt.Sprint(n) {
		t.Errorf("page says received %q", got)
	}
	hex64 := regexp.MustCompile(`[0-9a-f]{64}`)
	for what, text := range map[string]string{"page": page, "/status": body, "/metrics": metricsText(t, a)} {
		if ips := findIPs(text); len(ips) > 0 {
			t.Errorf("%s shows IP addresses %v", what, ips)
		}
		if strings.Contains(text, tagHex) || strings.Contains(text, tagHex[:16]) {
			t.Errorf("%s shows the mailbox tag", what)
		}
		if what == "page" && hex64.MatchString(text) {
			t.Errorf("the page shows a 64-hex string %q", hex64.FindString(text))
		}
	}

	// The terminal summary finds the relay through DATA/admin.addr.
	out, errOut, code := runCLI(t, nil, "status", "--data", a.dir)
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"school relay", "classroom pi", "library laptop", fmt.Sprintf("received %d", n), "cache    [#", "connected for"} {
		if !strings.Contains(out, want) {
			t.Errorf("`echorelay status` lacks %q:\n%s", want, out)
		}
	}
	if ips := findIPs(out); len(ips) > 0 {
		t.Errorf("`echorelay status` shows %v", ips)
	}
	// Counters of other parts (reconciliation, abuse limits, …) are listed with --all.
	rep, err := parseReport([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Extra) > 0 {
		all, _, _ := runCLI(t, nil, "status", "--data", a.dir, "--all")
		if !strings.Contains(out, "echorelay status --all") || !strings.Contains(all, "  "+rep.Extra[0].Key+" ") {
			t.Errorf("extra counter %q: default output\n%s\n--all output\n%s", rep.Extra[0].Key, out, all)
		}
	}
	// A new name in the peers file shows after SIGHUP; the neighbour stays up.
	a.labelledPeers(
		fmt.Sprintf("127.0.0.1:%d %s   # room 12 pi", b.port, b.fp),
		fmt.Sprintf("tls://127.0.0.1:%d      # library laptop", dead))
	poll(t, "the new label", func() string {
		s, _ := a.fullStatus()
		for _, nb := range s.Neighbours {
			if nb.Peer == "room 12 pi" && nb.State == "up" && nb.BlobsOut >= n {
				return ""
			}
		}
		return fmt.Sprintf("neighbours %+v", s.Neighbours)
	})

	js, _, code := runCLI(t, nil, "status", "--data", a.dir, "--json")
	var asJSON fullStatus
	if err := json.Unmarshal([]byte(js), &asJSON); code != 0 || err != nil || asJSON.Received != n {
		t.Errorf("status --json: exit %d, %v, %+v", code, err, asJSON)
	}
}

func metricsText(t *testing.T, r *relayProc) string {
	_, body := httpGet(t, "http://"+r.admin+"/metrics")
	return body
}

// Exposing the admin listener needs --admin-lan, and then a token on every request.
func TestAdminOnTheLAN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, errOut, code := runCLI(t, nil, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0")
	if code != 1 || !strings.HasPrefix(errOut, "echorelay: admin = 0.0.0.0:0 would show the status page to the network\nhint: add --admin-lan") {
		t.Fatalf("LAN admin without --admin-lan: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache.db")); err == nil {
		t.Error("the refused relay created its cache")
	}

	r := startRelay(t, "L", "--admin", "0.0.0.0:0", "--admin-lan")
	_, port, _ := net.SplitHostPort(r.admin)
	base := "http://127.0.0.1:" + port
	tok, err := os.ReadFile(filepath.Join(r.dir, admin.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	if fi, _ := os.Stat(filepath.Join(r.dir, admin.TokenFile)); len(token) < 32 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token %q, mode %v", token, fi.Mode())
	}
	if !strings.Contains(r.log.String(), token) {
		t.Error("the new token was not printed")
	}
	for _, c := range []struct {
		path   string
		header []string
		want   int
	}{
		{"/status", nil, 401},
		{"/", nil, 401},
		{"/metrics?token=wrong", nil, 401},
		{"/status", []string{"Authorization", "Bearer " + token + "x"}, 401},
		{"/status?token=" + token, nil, 200},
		{"/metrics", []string{"Authorization", "Bearer " + token}, 200},
		{"/?token=" + token, nil, 200},
	} {
		code, body := httpGet(t, base+c.path, c.header...)
		if code != c.want {
			t.Errorf("%s %v: %d, want %d", c.path, c.header, code, c.want)
		}
		if code == 401 && strings.Contains(body, token) {
			t.Errorf("the 401 answer holds the token")
		}
	}
	_, page := httpGet(t, base+"/?token="+token)
	if !strings.Contains(page, `href="/metrics?token=`+token+`"`) {
		t.Error("the page's links lose the token")
	}

	if b, _ := os.ReadFile(filepath.Join(r.dir, admin.AddrFile)); strings.TrimSpace(string(b)) != "127.0.0.1:"+port {
		t.Errorf("admin.addr holds %q, want the loopback address 127.0.0.1:%s", b, port)
	}
	_, errOut, code = runCLI(t, nil, "status", "--admin", "127.0.0.1:"+port, "--data", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "echorelay: the status page at 127.0.0.1:"+port+" needs its token\nhint: ") {
		t.Errorf("status without token: exit %d\n%s", code, errOut)
	}
	out, errOut, code := runCLI(t, nil, "status", "--data", r.dir) // address and token from DATA
	if code != 0 || !strings.Contains(out, "Running on its own") {
		t.Errorf("status with the data dir's token: exit %d\n%s%s", code, out, errOut)
	}

	// A restart reuses the token and does not print it again.
	r.restart()
	if strings.Contains(r.log.String(), token) {
		t.Error("the token was printed again on restart")
	}
	_, port, _ = net.SplitHostPort(r.admin)
	if code, _ := httpGet(t, "http://127.0.0.1:"+port+"/status?token="+token); code != 200 {
		t.Errorf("after restart: %d", code)
	}
}

// The binary refuses bad configuration in one line naming the key, prints the effective
// configuration, and says so when no relay answers.
func TestConfigAndStatusCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, errOut, code := runCLI(t, nil, "serve", "--data", dir, "--max-blob", "5")
	if code != 1 || errOut != "echorelay: max-blob = 5: must be between 1024 and 67108864\nhint: max-blob comes from flag --max-blob; run `echorelay serve --help` for what it means\n" {
		t.Errorf("--max-blob 5: exit %d\n%s", code, errOut)
	}
	os.WriteFile(filepath.Join(dir, relayd.ConfigFileName), []byte("# test\nmax-store = 2000000\nmax-ttl = 1y\n"), 0o644)
	_, errOut, code = runCLI(t, nil, "serve", "--data", dir)
	if code != 1 || !strings.Contains(errOut, relayd.ConfigFileName+":3: max-ttl = 1y: not a duration") || !strings.Contains(errOut, "hint: ") {
		t.Errorf("bad config file: exit %d\n%s", code, errOut)
	}
	os.WriteFile(filepath.Join(dir, relayd.ConfigFileName), []byte("# test\nmax-store = 2000000\nmax-ttl = 48h\n"), 0o644)
	out, errOut, code := runCLI(t, nil, "serve", "--data", dir, "--max-ttl", "2h", "--print-config")
	if code != 0 {
		t.Fatalf("--print-config: exit %d %s", code, errOut)
	}
	for _, re := range []string{`(?m)^max-store = 2000000 +# .*echorelay.conf:2$`, `(?m)^max-ttl += 2h0m0s +# flag --max-ttl$`, `(?m)^max-blob += 2097152 +# default$`, `(?m)^# config file: .*echorelay.conf$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("--print-config does not match %s:\n%s", re, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cache.db")); err == nil {
		t.Error("--print-config started the relay")
	}

	_, errOut, code = runCLI(t, nil, "status", "--admin", fmt.Sprintf("127.0.0.1:%d", closedTCPPort(t)), "--data", dir)
	if code != 1 || !strings.Contains(errOut, "echorelay: no relay answers at 127.0.0.1:") || !strings.Contains(errOut, "hint: is the relay running?") {
		t.Errorf("status with no relay: exit %d\n%s", code, errOut)
	}
}
