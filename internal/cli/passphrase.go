package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/echorelay/echorelay/internal/hint"
)

// PassphraseEnvHelp says why the environment variable is a last resort.
const PassphraseEnvHelp = "env ECHORELAY_PASSPHRASE works too, for scripts only: other processes of the same user can read a process's environment"

// ReadPassphrase reads the first line of file (--passphrase-file), else $ECHORELAY_PASSPHRASE
// (unsafe, see PassphraseEnvHelp); nil when neither is given.
func ReadPassphrase(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("failed to read passphrase file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return []byte(strings.TrimRight(line, "\r")), nil
	}
	return []byte(os.Getenv("ECHORELAY_PASSPHRASE")), nil
}

// NewPassphrase is the passphrase of a new identity (`id new`): from file or the environment
// (ReadPassphrase), else asked twice on the terminal, where an empty answer must be
// confirmed; none with none (--no-passphrase), or with env ECHORELAY_NO_PASSPHRASE=1 and no
// other source. Without a terminal and without a source it refuses.
func NewPassphrase(file string, none bool) ([]byte, error) {
	if none {
		return nil, nil
	}
	pass, err := ReadPassphrase(file)
	if err != nil || len(pass) > 0 {
		return pass, err
	}
	if os.Getenv("ECHORELAY_NO_PASSPHRASE") == "1" {
		return nil, nil
	}
	if !StdinIsTerminal() {
		return nil, hint.New("type one on a terminal, give --passphrase-file FILE, or --no-passphrase for none", "id new needs a passphrase")
	}
	if pass = PromptPassphrase("new passphrase (it also encrypts your history): "); len(pass) > 0 {
		if again := PromptPassphrase("the same again: "); string(again) != string(pass) {
			return nil, hint.New("type the same passphrase twice", "the passphrases differ")
		}
		return pass, nil
	}
	if a := PromptLine("no passphrase: anyone who can read your home can read your messages. Continue without one? [y/N] "); a != "y" && a != "yes" {
		return nil, hint.New("run `echorelay id new` again and type a passphrase", "no identity created")
	}
	return nil, nil
}
