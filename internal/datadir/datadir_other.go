//go:build !android

package datadir

import "os"

// Default is where `echorelay serve` keeps its database and node key
// when --data is not given: $STATE_DIRECTORY under systemd,
// /var/lib/echorelay for root, else the user's XDG data dir. See defaults.go.
func Default() string {
	return userDataDir(os.Getenv, os.Geteuid(), UserHome())
}
