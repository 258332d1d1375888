package main

import (
	"flag"
	"os"

	"github.com/echorelay/echorelay/internal/admin"
)

func init() {
	register(command{"status", "print a running relay's status page in the terminal (for SSH users)", cmdStatus})
}

// DefaultAdmin is the admin listener's default address.
const DefaultAdmin = admin.DefaultAddr

func cmdStatus(args []string) error {
	fs := newFlags("status", "[flags]", "Print the status of the relay running on this computer: neighbours, cache, counters and the\nlast hour, read from its admin listener (the same numbers as its status page).")
	rf := addRelayFlags(fs)
	asJSON := fs.Bool("json", false, "print /status as JSON instead")
	all := fs.Bool("all", false, "also print the counters of reconciliation, abuse limits and other parts")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
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
func parseStatus(body []byte) (admin.Status, error) { return admin.ParseStatus(body) }

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

// reach is admin.Reach with the parsed flags and this build's user agent; --data counts as
// given only when it was.
func (r *relayFlags) reach() (addr, tok string, body []byte, err error) {
	dataGiven := false
	r.fs.Visit(func(f *flag.Flag) { dataGiven = dataGiven || f.Name == "data" })
	return admin.Reach(*r.data, dataGiven, *r.admin, *r.token, "echorelay/"+version)
}
