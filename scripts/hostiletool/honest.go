package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
)

// The honest client runs in a process of its own (hostiletool -honest ADDR -tag HEX), so that
// its put latencies are the relay's and the operating system's, not those of the attacker's
// hundreds of goroutines sharing a Go scheduler with it. It connects, prints "ready", puts a
// 1 KiB tagged message every 100 ms over that one link until its standard input ends, then
// prints its statistics as one JSON line.

type honestStats struct {
	P99     time.Duration `json:"p99"`
	Worst   time.Duration `json:"worst"`    // the slowest put ...
	WorstAt time.Duration `json:"worst_at"` // ... began this long after the client started
	Acked   int           `json:"acked"`
	IDs     []string      `json:"ids"` // of the acknowledged messages, hex
	Err     string        `json:"err,omitempty"`
}

type honest struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startHonest starts the honest client's process and waits until it is connected.
func (a *arena) startHonest() (*honest, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	h := &honest{cmd: exec.Command(self, "-honest", a.addr(), "-tag", hex.EncodeToString(a.tag[:]), "-for", (a.dur + time.Minute).String())}
	h.cmd.Stderr = os.Stderr
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	h.out = bufio.NewReader(stdout)
	if line, err := h.out.ReadString('\n'); err != nil || line != "ready\n" {
		h.cmd.Process.Kill()
		h.cmd.Wait()
		return nil, fmt.Errorf("honest client did not start: %q %v", line, err)
	}
	return h, nil
}

// stop ends the honest client and returns what it measured.
func (h *honest) stop() honestStats {
	h.stdin.Close()
	var st honestStats
	line, err := h.out.ReadString('\n')
	if err == nil {
		err = json.Unmarshal([]byte(line), &st)
	}
	if err != nil {
		st.Err = fmt.Sprintf("honest client: %v", err)
		h.cmd.Process.Kill()
	}
	h.cmd.Wait()
	return st
}

// honestMain is the honest client's process.
func honestMain(addr, tagHex string, limit time.Duration) {
	var tag echo.Tag
	if b, err := hex.DecodeString(tagHex); err != nil || len(b) != len(tag) {
		fmt.Fprintln(os.Stderr, "hostiletool: -tag wants 64 hex digits")
		os.Exit(2)
	} else {
		copy(tag[:], b)
	}
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	st := runHonest(addr, tag, limit, stop, func() { fmt.Println("ready") })
	b, _ := json.Marshal(st)
	fmt.Println(string(b))
}

func runHonest(addr string, tag echo.Tag, limit time.Duration, stop <-chan struct{}, ready func()) (st honestStats) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c, err := peers.DialClient(ctx, "tls://"+addr)
	ready()
	if err != nil {
		st.Err = err.Error()
		return st
	}
	defer c.Close()
	var lat []time.Duration
	began := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
		case <-ctx.Done():
		case <-tick.C:
			payload := make([]byte, 1024)
			rand.Read(payload)
			e := echo.Envelope{Expiry: time.Now().Add(24 * time.Hour).Unix(), Tag: tag, Payload: payload}
			env, _ := e.Marshal()
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			t0 := time.Now()
			id, _, err := c.Put(pctx, env)
			pcancel()
			d := time.Since(t0)
			if err != nil {
				d = 10 * time.Second // a failed put counts as the slowest
			}
			if d > st.Worst {
				st.Worst, st.WorstAt = d, t0.Sub(began)
			}
			lat = append(lat, d)
			if err == nil {
				st.Acked++
				st.IDs = append(st.IDs, id.String())
			}
			continue
		}
		break
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		st.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return st
}

// ids parses the acknowledged IDs.
func (st honestStats) ids() ([]echo.ID, error) {
	out := make([]echo.ID, 0, len(st.IDs))
	for _, s := range st.IDs {
		id, err := echo.ParseID(s)
		if err != nil {
			return nil, errors.Join(errors.New("honest client sent a bad ID"), err)
		}
		out = append(out, id)
	}
	return out, nil
}
