package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/echorelay/echorelay/internal/admin"
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
	r, err := parseStatus(body)
	if err != nil {
		return err
	}
	admin.WriteText(os.Stdout, &r, *all)
	return nil
}

// parseStatus decodes /status.
func parseStatus(body []byte) (admin.Status, error) {
	var s admin.Status
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("failed to read status: %w", err)
	}
	return s, nil
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

// fetchStatus is admin.Fetch with what to do next for the errors a user can cause.
func fetchStatus(addr, token string) ([]byte, error) {
	body, err := admin.Fetch(addr, token, "echorelay/"+version)
	switch {
	case errors.Is(err, admin.ErrBadAddress):
		return nil, userErr("give the admin address as HOST:PORT, e.g. "+DefaultAdmin, "bad admin address %q", addr)
	case errors.Is(err, admin.ErrBadToken):
		return nil, userErr("the token is the one line in the relay's admin.token file", "the admin token holds spaces or control characters")
	case errors.Is(err, admin.ErrNeedsToken):
		return nil, userErr("give --token, or --data with the relay's data directory (it holds admin.token)", "the status page at %s needs its token", addr)
	case errors.Is(err, admin.ErrNoRelay):
		return nil, userErr("is the relay running? it serves its status on --admin ("+DefaultAdmin+" by default); give --admin or --data if it uses others",
			"no relay answers at %s", addr)
	case errors.Is(err, admin.ErrNoAnswer):
		return nil, userErr("check the address given to --admin", "%s did not answer", addr)
	}
	return body, err
}

// humanBytes prints sizes as the status page does (check prints the blob log's size).
func humanBytes(n int64) string { return admin.HumanBytes(n) }
