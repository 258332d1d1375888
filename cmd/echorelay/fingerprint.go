package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/echorelay/echorelay/internal/resolve"
	"github.com/echorelay/echorelay/peers"
)

func init() {
	register(command{"fingerprint", "print this relay's full fingerprint and the peers-file line a neighbour adds to pin it", cmdFingerprint})
}

func cmdFingerprint(args []string) error {
	fs := newFlags("fingerprint", "[--data DIR] [--port N]", "Print the relay's fingerprint (all 64 hex digits of its node key's SHA-256, what a pin in a\nneighbour's peers file needs) and, for each of this computer's network addresses, the line a\nneighbour adds to its peers file. Reads DATA/node.key; the relay need not be running.")
	data := fs.String("data", defaultDataDir(), "data directory of the relay")
	port := fs.Int("port", DefaultPort, "the port the relay listens on (its --listen)")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	if *port < 1 || *port > 65535 {
		return userErr("a port is 1 to 65535", "bad --port %d", *port)
	}
	id, err := peers.LoadIdentity(*data)
	if errors.Is(err, os.ErrNotExist) {
		return userErr("start the relay once (`echorelay serve`), or give --data with its data directory",
			"no node key in %s", *data)
	}
	if err != nil {
		return err
	}
	fmt.Printf("fingerprint: %s\n\n", id.Fingerprint)
	addrs := resolve.LANAddrs()
	if len(addrs) == 0 {
		fmt.Printf("A neighbour adds this line to its peers file (with this computer's address):\n  ADDRESS:%d  %s\n", *port, id.Fingerprint)
		return nil
	}
	fmt.Println("A neighbour adds one of these lines to its peers file (the address it reaches you at):")
	for _, a := range addrs {
		fmt.Printf("  %s  %s\n", net.JoinHostPort(a, strconv.Itoa(*port)), id.Fingerprint)
	}
	return nil
}
