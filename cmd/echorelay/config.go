package main

// The serve command's config file (internal/config reads it): every long flag name of
// serveFlags is also a key of the optional file DATA/echorelay.conf (or --config FILE), and
// after parsing every value is checked against relayd.Checks; a bad value stops the relay with
// the key and the accepted range.

import (
	"flag"
	"io"
	"path/filepath"

	"github.com/echorelay/echorelay/internal/config"
)

// ConfigFileName is the config file looked for in the data dir when --config is not given.
const ConfigFileName = "echorelay.conf"

// configSources records where each key's value came from.
type configSources = config.Sources

// configRules: --config and --print-config are no keys; the token is never printed; the data
// dir cannot be moved by the file that lives in it.
var configRules = config.Rules{
	NotInFile: map[string]bool{"config": true, "print-config": true},
	Secret:    map[string]bool{"admin-token": true},
	Explicit:  map[string]string{"data": "give the file with --config to move the data directory"},
}

// applyConfig parses args into fs, then fills every key not given as a flag from the config
// file: configPath is the --config value ("" for DATA/echorelay.conf if present); dataDir
// returns the data dir after the flags are parsed.
func applyConfig(fs *flag.FlagSet, args []string, configPath *string, dataDir func() string) (configSources, error) {
	if err := parseFlags(fs, args); err != nil {
		return configSources{From: map[string]string{}}, err
	}
	path, explicit := *configPath, *configPath != ""
	if !explicit {
		path = filepath.Join(dataDir(), ConfigFileName)
	}
	return config.Apply(fs, path, explicit, configRules)
}

// printConfig writes the effective configuration in the config file's format.
func printConfig(w io.Writer, fs *flag.FlagSet, src configSources) {
	file := "config file: none (looked for DATA/" + ConfigFileName + ")"
	if src.File != "" {
		file = "config file: " + src.File
	}
	config.Print(w, fs, src, configRules, "effective configuration of echorelay "+version+" serve", file, "precedence: flags > config file > defaults")
}
