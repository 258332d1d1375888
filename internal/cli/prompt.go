package cli

import (
	"fmt"
	"os"

	"golang.org/x/term"
)

// StdinIsTerminal reports whether standard input is a terminal. Tests and scripts run with
// /dev/null or a pipe and are never prompted.
func StdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// PromptPassphrase asks on the terminal with echo off. It returns nil when there is no
// terminal to ask.
func PromptPassphrase(prompt string) []byte {
	if !StdinIsTerminal() {
		return nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil
	}
	return b
}

// PromptLine asks a question on the terminal and returns the answer ("" without one).
func PromptLine(prompt string) string {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !StdinIsTerminal() {
		return ""
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	var b [64]byte
	n, _ := tty.Read(b[:])
	s := string(b[:n])
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
