package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// stdinIsTerminal reports whether standard input is a character device other than /dev/null:
// a terminal, in practice. Tests and scripts run with /dev/null or a pipe and are never
// prompted.
func stdinIsTerminal() bool {
	st, err := os.Stdin.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && !os.SameFile(st, null)
}

// promptPassphrase asks on the terminal with echo off (stty, present on Linux and Termux). It
// returns nil when there is no terminal to ask.
func promptPassphrase(prompt string) []byte {
	if !stdinIsTerminal() {
		return nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	defer tty.Close()
	stty := func(arg string) error {
		c := exec.Command("stty", arg)
		c.Stdin = tty
		return c.Run()
	}
	if stty("-echo") != nil {
		return nil
	}
	defer func() {
		stty("echo")
		fmt.Fprintln(tty)
	}()
	fmt.Fprint(tty, prompt)
	line, _ := bufio.NewReader(tty).ReadString('\n')
	return []byte(strings.TrimRight(line, "\r\n"))
}
