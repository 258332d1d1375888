package main

// The serve command's config file: internal/relayd loads and checks it (configfile.go), and
// every long flag name of serveFlags is one of its keys.

import (
	"flag"
	"io"

	"github.com/echorelay/echorelay/internal/config"
	"github.com/echorelay/echorelay/internal/relayd"
)

// ConfigFileName is the config file looked for in the data dir when --config is not given.
const ConfigFileName = relayd.ConfigFileName

// configSources records where each key's value came from.
type configSources = config.Sources

// configRules are the keys the file may not set or print (relayd.ConfigRules).
var configRules = relayd.ConfigRules

// printConfig writes the effective configuration in the config file's format.
func printConfig(w io.Writer, fs *flag.FlagSet, src configSources) {
	relayd.PrintConfig(w, fs, src, version)
}
