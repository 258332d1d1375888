package admin

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/internal/hint"
)

// Reload makes the relay whose status page answers at addr (and whose /status was before)
// re-read its peers file: it sends the relay's process SIGHUP and waits up to wait for the
// status to report the attempt. It returns the peers file as the relay then applied it, or
// the error that kept the old list. data is the relay's data directory, named in hints.
func Reload(addr, token, userAgent, data string, before Status, wait time.Duration) (PeersFile, error) {
	// A signal goes to a process on this computer: the admin listener must be local.
	if host, _, _ := net.SplitHostPort(addr); !LoopbackHost(addr) || before.Pid <= 0 {
		return PeersFile{}, hint.New("run reload on the relay's computer", "the relay at %s is not on this computer (%s)", addr, host)
	}
	p, err := os.FindProcess(before.Pid)
	if err == nil {
		err = p.Signal(syscall.SIGHUP)
	}
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) {
		return PeersFile{}, hint.New("run it as the relay's user (e.g. sudo -u echorelay echorelay reload --data "+data+"), or systemctl reload echorelay", "not allowed to signal the relay (pid %d)", before.Pid)
	}
	if err != nil {
		return PeersFile{}, fmt.Errorf("failed to signal the relay (pid %d): %w", before.Pid, err)
	}
	deadline := time.Now().Add(wait)
	for {
		body, err := FetchHinted(addr, token, userAgent)
		if err != nil {
			return PeersFile{}, err
		}
		after, err := ParseStatus(body)
		if err != nil {
			return PeersFile{}, err
		}
		if pf := after.PeersFile; pf.Attempts > before.PeersFile.Attempts {
			if pf.Error != "" {
				return pf, hint.New("fix the file, then run echorelay reload again; the relay keeps the neighbours it had",
					"peers file %s not applied: %s", pf.Path, pf.Error)
			}
			return pf, nil
		}
		if time.Now().After(deadline) {
			return PeersFile{}, fmt.Errorf("the relay (pid %d) did not report a reload within %v", before.Pid, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
