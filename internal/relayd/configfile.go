package relayd

// The serve command's config file (internal/config reads it): every long flag name of serve
// is also a key of the optional file DATA/echorelay.conf (or --config FILE), and after parsing
// every value is checked against Checks; a bad value stops the relay with the key and the
// accepted range.

import (
	"flag"
	"io"
	"path/filepath"

	"github.com/echorelay/echorelay/internal/config"
	"github.com/echorelay/echorelay/internal/hint"
)

// ConfigFileName is the config file looked for in the data dir when --config is not given.
const ConfigFileName = "echorelay.conf"

// ConfigRules: --config and --print-config are no keys; the token is never printed; the data
// dir cannot be moved by the file that lives in it.
var ConfigRules = config.Rules{
	NotInFile: map[string]bool{"config": true, "print-config": true},
	Secret:    map[string]bool{"admin-token": true},
	Explicit:  map[string]string{"data": "give the file with --config to move the data directory"},
}

// LoadConfig completes c, whose fields the flags of the parsed fs set: every key not given as
// a flag comes from the config file at path (the --config value; "" for DATA/echorelay.conf
// if present), then the defaults that depend on other keys are filled in (the peers file in
// DATA; a mailbox quota of at most max-store) and the result is checked. It returns where
// each key's value came from.
func LoadConfig(fs *flag.FlagSet, c *Config, path string) (config.Sources, error) {
	explicit := path != ""
	if !explicit {
		path = filepath.Join(c.Data, ConfigFileName)
	}
	src, err := config.Apply(fs, path, explicit, ConfigRules)
	if err != nil {
		return src, err
	}
	if fs.NArg() > 0 {
		return src, hint.New(fs.Name()+" takes only flags", "unexpected argument %q", fs.Arg(0))
	}
	if c.Peers == "" {
		c.Peers = filepath.Join(c.Data, "peers")
	}
	if src.Of("mailbox-quota") == "default" {
		c.MailboxBytes = min(c.MailboxBytes, c.MaxStore) // a small cache lowers the default quota
	}
	if err := config.Validate(fs, c, Checks, src, ConfigRules); err != nil {
		return src, err
	}
	if err := c.CheckExposure(); err != nil {
		return src, err
	}
	return src, c.Abuse.Check() // Checks names the keys first
}

// PrintConfig writes the effective configuration of fs in the config file's format; version
// names the build in its header.
func PrintConfig(w io.Writer, fs *flag.FlagSet, src config.Sources, version string) {
	file := "config file: none (looked for DATA/" + ConfigFileName + ")"
	if src.File != "" {
		file = "config file: " + src.File
	}
	config.Print(w, fs, src, ConfigRules, "effective configuration of echorelay "+version+" serve", file, "precedence: flags > config file > defaults")
}
