package main

import "os"

// defaultDataDir is where `echorelay serve` keeps its database and node key
// when --data is not given. On Android (Termux) that is $HOME/.echorelay.
func defaultDataDir() string {
	return androidDataDir(os.Getenv)
}
