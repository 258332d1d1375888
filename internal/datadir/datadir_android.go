package datadir

import "os"

// Default is where `echorelay serve` keeps its database and node key
// when --data is not given. On Android (Termux) that is $HOME/.echorelay.
func Default() string {
	return androidDataDir(os.Getenv)
}
