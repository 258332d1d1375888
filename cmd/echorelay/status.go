package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/echorelay/echorelay/peers"
)

func init() {
	register(command{"status", "print a running relay's status page in the terminal (for SSH users)", cmdStatus})
}

// DefaultAdmin is the admin listener's default address.
var DefaultAdmin = fmt.Sprintf("127.0.0.1:%d", DefaultPort+1)

func cmdStatus(args []string) error {
	fs := newFlags("status", "[flags]", "Print the status of the relay running on this computer: neighbours, cache, counters and the\nlast hour, read from its admin listener (the same numbers as its status page).")
	rf := addRelayFlags(fs)
	asJSON := fs.Bool("json", false, "print /status as JSON instead")
	all := fs.Bool("all", false, "also print the counters of reconciliation, abuse limits and other parts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return userErr("status takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	_, _, body, err := rf.reach()
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := os.Stdout.Write(body)
		return err
	}
	r, err := parseReport(body)
	if err != nil {
		return err
	}
	printStatus(os.Stdout, r, *all)
	return nil
}

// relayFlags are the flags of the commands that talk to a running relay of this computer
// (status, reload): its data directory, admin address and token.
type relayFlags struct {
	fs                 *flag.FlagSet
	data, admin, token *string
}

func addRelayFlags(fs *flag.FlagSet) *relayFlags {
	return &relayFlags{fs: fs,
		admin: fs.String("admin", "", "HOST:PORT of the relay's admin listener (default: the address in DATA/admin.addr, else "+DefaultAdmin+")"),
		data:  fs.String("data", defaultDataDir(), "the relay's data directory, where it notes its admin address and LAN token"),
		token: fs.String("token", "", "token of a LAN status page (default: DATA/admin.token when present)"),
	}
}

// reach is reachRelay with the parsed flags; --data counts as given only when it was.
func (r *relayFlags) reach() (addr, tok string, body []byte, err error) {
	dataGiven := false
	r.fs.Visit(func(f *flag.Flag) { dataGiven = dataGiven || f.Name == "data" })
	return reachRelay(*r.data, dataGiven, *r.admin, *r.token)
}

// reachRelay finds the relay of the data directory: its admin address from --admin, else
// DATA/admin.addr, else (only when --data was not given) the default address; its token from
// --token or DATA/admin.token. It returns the address, the token and the /status answer, and
// refuses a relay whose key is not the data directory's.
func reachRelay(data string, dataGiven bool, admin, token string) (addr, tok string, body []byte, err error) {
	addr, tok = admin, token
	if addr == "" {
		if b, err := os.ReadFile(filepath.Join(data, adminAddrFile)); err == nil && strings.TrimSpace(string(b)) != "" {
			addr = strings.TrimSpace(string(b))
		} else if dataGiven {
			// A running relay notes its admin address in its data directory; without the note
			// it is not running, and whatever answers at the default address is another one.
			return "", "", nil, userErr("start it with `echorelay serve --data "+data+"`, or give --admin if it serves its status elsewhere",
				"the relay of %s is not running (no %s there)", data, adminAddrFile)
		} else {
			addr = DefaultAdmin
		}
	}
	if tok == "" {
		if b, err := os.ReadFile(filepath.Join(data, adminTokenFile)); err == nil {
			tok = strings.TrimSpace(string(b))
		}
	}
	body, err = fetchStatus(addr, tok)
	if err != nil {
		return "", "", nil, err
	}
	// The relay that answered must be the one of the data directory, when it has a key: a
	// stale admin.addr or the default address can reach another relay on this computer.
	if id, err := peers.LoadIdentity(data); err == nil {
		var who struct {
			Fingerprint string `json:"fingerprint"`
		}
		if json.Unmarshal(body, &who) == nil && who.Fingerprint != "" && who.Fingerprint != id.Fingerprint {
			return "", "", nil, userErr("give --data with the data directory of the relay you mean, or --admin with its status address",
				"the relay answering at %s (key %.16s…) is not the relay of %s (key %.16s…); that one is not running", addr, who.Fingerprint, data, id.Fingerprint)
		}
	}
	return addr, tok, body, nil
}

// Limits of fetchStatus.
const (
	statusTimeout  = 10 * time.Second // dial, ask and read the whole answer
	statusMaxHead  = 64 << 10         // status line and headers of the answer
	statusMaxBody  = 4 << 20          // the /status JSON
	statusMaxShown = 80               // bytes of a malformed answer quoted in the error
)

// fetchStatus asks the admin listener at addr for /status with a minimal HTTP/1.1 client: one
// GET on a fresh connection (Connection: close), the answer read up to statusMaxBody. It reads
// what adminhttp.go writes (Content-Length, or the body up to the close); chunked answers are
// refused.
func fetchStatus(addr, token string) ([]byte, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil || strings.ContainsAny(addr, " \t\r\n/?#@") {
		return nil, userErr("give the admin address as HOST:PORT, e.g. "+DefaultAdmin, "bad admin address %q", addr)
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, userErr("the token is the one line in the relay's admin.token file", "the admin token holds spaces or control characters")
	}
	deadline := time.Now().Add(statusTimeout)
	conn, err := net.DialTimeout("tcp", addr, statusTimeout)
	if err != nil {
		return nil, statusNetErr(addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	var req strings.Builder
	fmt.Fprintf(&req, "GET /status HTTP/1.1\r\nHost: %s\r\nUser-Agent: echorelay/%s\r\nAccept: application/json\r\n", addr, version)
	if token != "" {
		fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", token)
	}
	req.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return nil, statusNetErr(addr, err)
	}
	code, reason, body, err := readStatusAnswer(bufio.NewReader(conn))
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) {
			return nil, statusNetErr(addr, err)
		}
		return nil, fmt.Errorf("failed to read status from %s: %w", addr, err)
	}
	switch {
	case code == 401:
		return nil, userErr("give --token, or --data with the relay's data directory (it holds admin.token)", "the status page at %s needs its token", addr)
	case code != 200:
		return nil, fmt.Errorf("failed to read status from %s: %d %s", addr, code, reason)
	}
	return body, nil
}

// statusNetErr explains a failed connection to the admin listener.
func statusNetErr(addr string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return userErr("is the relay running? it serves its status on --admin ("+DefaultAdmin+" by default); give --admin or --data if it uses others",
			"no relay answers at %s", addr)
	case errors.As(err, &ne) && ne.Timeout():
		return userErr("check the address given to --admin", "%s did not answer", addr)
	}
	return fmt.Errorf("failed to read status from %s: %w", addr, err)
}

// readStatusAnswer reads an HTTP/1.x answer: status code, reason phrase and body.
func readStatusAnswer(br *bufio.Reader) (code int, reason string, body []byte, err error) {
	headLeft := statusMaxHead
	line := func() (string, error) {
		var b []byte
		for {
			chunk, err := br.ReadSlice('\n')
			b = append(b, chunk...)
			if headLeft -= len(chunk); headLeft < 0 {
				return "", errors.New("the answer's head is larger than 64 KiB")
			}
			switch {
			case err == nil:
				return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
			case errors.Is(err, bufio.ErrBufferFull):
				continue
			case errors.Is(err, io.EOF):
				if len(b) == 0 {
					return "", errors.New("the connection closed without an answer")
				}
				return "", fmt.Errorf("the answer ended in its head: %q", shorten(b))
			}
			return "", err
		}
	}
	status, err := line()
	if err != nil {
		return 0, "", nil, err
	}
	proto, rest, _ := strings.Cut(status, " ")
	num, reason, _ := strings.Cut(rest, " ")
	code, cerr := strconv.Atoi(num)
	if !strings.HasPrefix(proto, "HTTP/1.") || len(num) != 3 || cerr != nil || code < 100 {
		return 0, "", nil, fmt.Errorf("not an HTTP answer: %q", shorten([]byte(status)))
	}
	length := int64(-1)
	for {
		h, err := line()
		if err != nil {
			return 0, "", nil, err
		}
		if h == "" {
			break
		}
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return 0, "", nil, fmt.Errorf("malformed header line in the answer: %q", shorten([]byte(h)))
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Transfer-Encoding"):
			return 0, "", nil, fmt.Errorf("the answer uses Transfer-Encoding %q, which this client does not read", shorten([]byte(value)))
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				return 0, "", nil, fmt.Errorf("malformed Content-Length in the answer: %q", shorten([]byte(value)))
			}
			length = n
		}
	}
	if length > statusMaxBody {
		return 0, "", nil, fmt.Errorf("the answer is %d bytes, more than the %d read", length, statusMaxBody)
	}
	if length >= 0 {
		body = make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			return 0, "", nil, fmt.Errorf("the answer ended after part of its body: %w", err)
		}
		return code, reason, body, nil
	}
	body, err = io.ReadAll(io.LimitReader(br, statusMaxBody+1))
	if err != nil {
		return 0, "", nil, err
	}
	if len(body) > statusMaxBody {
		return 0, "", nil, fmt.Errorf("the answer is more than the %d bytes read", statusMaxBody)
	}
	return code, reason, body, nil
}

// shorten quotes at most statusMaxShown bytes of b.
func shorten(b []byte) string {
	if len(b) > statusMaxShown {
		return string(b[:statusMaxShown]) + "…"
	}
	return string(b)
}

// printStatus is the terminal version of the status page, in the same words.
func printStatus(w io.Writer, r statusReport, all bool) {
	v, _ := r.verdict()
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	fmt.Fprintf(w, "%s · echorelay %s · running for %s\n%s\n", r.Name, r.Version, humanDuration(r.UptimeS), v)
	if r.Fingerprint != "" {
		fmt.Fprintf(w, "Relay ID (key %.16s…): give it to neighbours who link to you; `echorelay fingerprint` prints it whole\n", r.Fingerprint)
	}
	fmt.Fprintln(w)

	if len(r.Neighbours) == 0 {
		fmt.Fprintf(w, "neighbours  none: add them to the peers file, one host:port per line\n")
	} else {
		rows := [][]string{{"NEIGHBOUR", "STATE", "RECEIVED", "SENT"}}
		for _, n := range r.Neighbours {
			name := n.Peer
			if n.Inbound {
				name += " (it linked to us)"
			}
			if n.Address != "" {
				name += " " + n.Address
			}
			rows = append(rows, []string{name, stateLine(n, now), fmt.Sprint(n.BlobsIn), fmt.Sprint(n.BlobsOut)})
		}
		wn, ws := 0, 0
		for _, row := range rows {
			wn, ws = max(wn, utf8.RuneCountInString(row[0])), max(ws, utf8.RuneCountInString(row[1]))
		}
		for i, row := range rows {
			fmt.Fprintf(w, "%s  %s  %8s %8s\n", pad(row[0], wn), pad(row[1], ws), row[2], row[3])
			if i > 0 && r.Neighbours[i-1].LastError != "" {
				fmt.Fprintf(w, "%s  ! %s\n", pad("", wn), upperFirst(r.Neighbours[i-1].LastError))
			}
		}
		fmt.Fprintf(w, "(received and sent: messages since the neighbour connected; they start again from 0 when it reconnects)\n")
	}
	fmt.Fprintln(w)
	pct := r.cachePercent()
	fmt.Fprintf(w, "cache    %s %.1f %% · %s of %s · %d %s\n", textBar(pct, 20), pct, shortBytes(r.Cache.Bytes), shortBytes(r.Cache.MaxBytes), r.Cache.Blobs, blobWord(r.Cache.Blobs))
	fmt.Fprintf(w, "         %s\n", r.durabilityWords())
	fmt.Fprintf(w, "messages received %d · new %d · duplicates %d · passed on %d · dropped %d\n", r.Received, r.Stored, r.Duplicates, r.Relayed, r.QueueDrops)
	var rej []string
	for _, x := range r.rejectRows() {
		rej = append(rej, fmt.Sprintf("%s %d", reasonWords(x.Reason), x.Count))
	}
	if len(rej) == 0 {
		rej = []string{"nothing"}
	}
	fmt.Fprintf(w, "refused  %s\n", strings.Join(rej, " · "))
	if len(r.Extra) > 0 && !all {
		fmt.Fprintf(w, "more     %d other counters: echorelay status --all\n", len(r.Extra))
	}
	for _, e := range r.Extra {
		if !all {
			break
		}
		if e.Labels == nil {
			fmt.Fprintf(w, "  %-28s %s\n", e.Key, extraWords(e.Key, e.Value))
			continue
		}
		var parts []string
		for k, v := range e.Labels {
			parts = append(parts, fmt.Sprintf("%s %s", k, extraWords(e.Key, v)))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "  %-28s %s\n", e.Key, strings.Join(parts, " · "))
	}
	h := r.History
	if len(h.BlobsIn) > 0 {
		step := time.Duration(h.StepS * float64(time.Second))
		if step <= 0 {
			step = time.Minute
		}
		fmt.Fprintf(w, "\nlast %s (one point every %s; oldest left, now right)\n", roughDuration(step*time.Duration(len(h.BlobsIn))), stepWords(step))
		fmt.Fprintf(w, "  received   %s now %s · highest %s\n", sparkBlocks(h.BlobsIn), perMinute(lastValue(h.BlobsIn)), perMinute(maxOf(h.BlobsIn)))
		fmt.Fprintf(w, "  passed on  %s now %s · highest %s\n", sparkBlocks(h.BlobsOut), perMinute(lastValue(h.BlobsOut)), perMinute(maxOf(h.BlobsOut)))
		fmt.Fprintf(w, "  storage    %s now %s · highest %s\n", sparkBlocks(h.CacheBytes), shortBytes(int64(lastValue(h.CacheBytes))), shortBytes(int64(maxOf(h.CacheBytes))))
	}
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

// textBar draws a fill level as [#####-----].
func textBar(pct float64, width int) string {
	full := int(pct/100*float64(width) + 0.5)
	if pct > 0 && full == 0 {
		full = 1
	}
	full = min(full, width)
	return "[" + strings.Repeat("#", full) + strings.Repeat("-", width-full) + "]"
}
