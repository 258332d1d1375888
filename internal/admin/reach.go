package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/echorelay/echorelay/internal/hint"
	"github.com/echorelay/echorelay/peers"
)

// DefaultAddr is the admin listener's default address: loopback, the port after the relay's
// 7788.
const DefaultAddr = "127.0.0.1:7789"

// Reach finds the running relay of the data directory data and reads its /status: the
// admin address is addr, else the one the relay noted in DATA/admin.addr, else (only when
// the caller did not name data explicitly) DefaultAddr; the token is token, else
// DATA/admin.token. It refuses a relay whose key is not the data directory's, and its errors
// carry what to do next (internal/hint).
func Reach(data string, dataGiven bool, addr, token, userAgent string) (gotAddr, gotToken string, body []byte, err error) {
	if addr == "" {
		if b, err := os.ReadFile(filepath.Join(data, AddrFile)); err == nil && strings.TrimSpace(string(b)) != "" {
			addr = strings.TrimSpace(string(b))
		} else if dataGiven {
			// A running relay notes its admin address in its data directory; without the note
			// it is not running, and whatever answers at the default address is another one.
			return "", "", nil, hint.New("start it with `echorelay serve --data "+data+"`, or give --admin if it serves its status elsewhere",
				"the relay of %s is not running (no %s there)", data, AddrFile)
		} else {
			addr = DefaultAddr
		}
	}
	if token == "" {
		if b, err := os.ReadFile(filepath.Join(data, TokenFile)); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	if body, err = FetchHinted(addr, token, userAgent); err != nil {
		return "", "", nil, err
	}
	// The relay that answered must be the one of the data directory, when it has a key: a
	// stale admin.addr or the default address can reach another relay on this computer.
	if id, err := peers.LoadIdentity(data); err == nil {
		var who struct {
			Fingerprint string `json:"fingerprint"`
		}
		if json.Unmarshal(body, &who) == nil && who.Fingerprint != "" && who.Fingerprint != id.Fingerprint {
			return "", "", nil, hint.New("give --data with the data directory of the relay you mean, or --admin with its status address",
				"the relay answering at %s (key %.16s…) is not the relay of %s (key %.16s…); that one is not running", addr, who.Fingerprint, data, id.Fingerprint)
		}
	}
	return addr, token, body, nil
}

// FetchHinted is Fetch with what to do next for the errors a user can cause.
func FetchHinted(addr, token, userAgent string) ([]byte, error) {
	body, err := Fetch(addr, token, userAgent)
	switch {
	case errors.Is(err, ErrBadAddress):
		return nil, hint.New("give the admin address as HOST:PORT, e.g. "+DefaultAddr, "bad admin address %q", addr)
	case errors.Is(err, ErrBadToken):
		return nil, hint.New("the token is the one line in the relay's admin.token file", "the admin token holds spaces or control characters")
	case errors.Is(err, ErrNeedsToken):
		return nil, hint.New("give --token, or --data with the relay's data directory (it holds admin.token)", "the status page at %s needs its token", addr)
	case errors.Is(err, ErrNoRelay):
		return nil, hint.New("is the relay running? it serves its status on --admin ("+DefaultAddr+" by default); give --admin or --data if it uses others",
			"no relay answers at %s", addr)
	case errors.Is(err, ErrNoAnswer):
		return nil, hint.New("check the address given to --admin", "%s did not answer", addr)
	}
	return body, err
}

// ParseStatus decodes a /status answer.
func ParseStatus(body []byte) (Status, error) {
	var s Status
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("failed to read status: %w", err)
	}
	return s, nil
}

// Running reports whether a relay answers at the admin address noted in the data directory
// data (DATA/admin.addr), with or without its token: a running relay keeps writing its cache
// there (`echorelay check` says so).
func Running(data, userAgent string) bool {
	b, err := os.ReadFile(filepath.Join(data, AddrFile))
	if err != nil {
		return false
	}
	_, err = Fetch(strings.TrimSpace(string(b)), "", userAgent)
	return err == nil || errors.Is(err, ErrNeedsToken)
}
