// Package datadir says where a relay keeps its state when --data is not given.
//
// `echorelay serve` with no flags must start a useful relay, so the SQLite
// cache and the node key need a home that exists without configuration and
// survives a reboot. Where that home is depends on who runs the relay:
//
//	systemd unit (any user)   $STATE_DIRECTORY (first entry), e.g. /var/lib/echorelay
//	root, no systemd          /var/lib/echorelay
//	ordinary user             $XDG_DATA_HOME/echorelay, else ~/.local/share/echorelay
//	Android / Termux          $HOME/.echorelay  (defaults_android.go)
//
// The platform files only pick which rule applies; the rules themselves are
// pure functions of the environment so they can be tested anywhere.

package datadir

import (
	"os"
	"path/filepath"
	"strings"
)

// systemDataDir is where a relay run as root keeps its state when systemd
// has not told it otherwise. It matches StateDirectory=echorelay in
// rpi/echorelay.service, so a hand-started root relay and the service share
// one cache.
const systemDataDir = "/var/lib/echorelay"

// userDataDir returns the data dir for a relay on a Unix-like system.
// getenv is os.Getenv in production; euid is the effective user ID (-1 when
// unknown, as on Windows); home is the user's home directory ("" when
// unknown).
func userDataDir(getenv func(string) string, euid int, home string) string {
	// systemd sets STATE_DIRECTORY for units with StateDirectory=, whatever
	// User= the unit runs as. It may hold several colon-separated paths when
	// the unit lists several; ours lists one, take the first.
	if sd := getenv("STATE_DIRECTORY"); sd != "" {
		first, _, _ := strings.Cut(sd, ":")
		if filepath.IsAbs(first) {
			return first
		}
	}
	if euid == 0 {
		return systemDataDir
	}
	if xdg := getenv("XDG_DATA_HOME"); xdg != "" && filepath.IsAbs(xdg) {
		// The XDG spec says relative values are invalid and must be ignored.
		return filepath.Join(xdg, "echorelay")
	}
	if home != "" {
		return filepath.Join(home, ".local", "share", "echorelay")
	}
	// No home at all (a bare container, a stripped-down service account):
	// fall back to the working directory rather than fail to start.
	return "echorelay-data"
}

// androidDataDir returns the data dir for a relay on Android, typically in
// Termux, whose $HOME is /data/data/com.termux/files/home. There is no
// /var/lib and no XDG convention worth following there, and the app's home
// is the only place that is private, persistent and writable.
func androidDataDir(getenv func(string) string) string {
	if home := getenv("HOME"); home != "" && filepath.IsAbs(home) {
		return filepath.Join(home, ".echorelay")
	}
	// Termux always sets HOME; anything else is a hand-rolled environment.
	return ".echorelay"
}

// UserHome is os.UserHomeDir without the error: "" when unknown.
func UserHome() string {
	h, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return h
}
