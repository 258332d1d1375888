package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/echorelay/echorelay/peers"
)

// relay is one real `echorelay serve` process on 127.0.0.1.
type relay struct {
	name, dir string
	cmd       *exec.Cmd
	exited    chan struct{}
	port      int
	admin, fp string
	logf      *os.File
	pprof     string // loopback address of net/http/pprof when profiling
}

// startRelay starts a relay on dir (created if needed) and waits for its ready file.
func startRelay(bin, name, dir string) (*relay, error) {
	return startRelayArgs(bin, name, dir, profiling)
}

// profiling starts relays with --pprof so that phases can save CPU profiles (--profile).
var profiling bool

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startRelayArgs(bin, name, dir string, prof bool) (*relay, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(dir, "relay.log"))
	if err != nil {
		return nil, err
	}
	ready := filepath.Join(dir, "ready.json")
	os.Remove(ready)
	r := &relay{name: name, dir: dir, logf: lf, exited: make(chan struct{})}
	// 8 GiB cache cap: the benchmark measures inserts, not eviction. Rate limits off: every
	// client comes from 127.0.0.1, and the benchmark measures capacity, not the limiter.
	r.cmd = exec.Command(bin, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--ready-file", ready, "--no-tcp", "--max-store", strconv.FormatInt(8<<30, 10), "--log-level", "warn",
		"--rate-submits", "0", "--rate-bytes", "0", "--rate-neighbour", "0", "--rate-fetches", "0", "--max-conns-per-ip", "0")
	r.cmd.Args = append(r.cmd.Args, strings.Fields(os.Getenv("BENCH_RELAY_ARGS"))...)
	if prof {
		a, err := freePort()
		if err != nil {
			return nil, err
		}
		r.pprof = a
		r.cmd.Args = append(r.cmd.Args, "--pprof", a)
	}
	r.cmd.Stderr = lf
	if err := r.cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil {
			var info struct {
				Port        int    `json:"port"`
				Admin       string `json:"admin"`
				Fingerprint string `json:"fingerprint"`
			}
			if json.Unmarshal(b, &info) == nil && info.Port != 0 {
				r.port, r.admin, r.fp = info.Port, info.Admin, info.Fingerprint
				return r, nil
			}
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("%s exited during start; see %s", name, lf.Name())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("%s did not become ready", name)
		}
	}
}

func (r *relay) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }
func (r *relay) pid() int     { return r.cmd.Process.Pid }

// stop sends SIGTERM and waits (SIGKILL after 30 s).
func (r *relay) stop() {
	select {
	case <-r.exited:
	default:
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
		}
	}
	r.logf.Close()
}

// setPeers writes the peers file with fingerprint pins and sends SIGHUP.
func (r *relay) setPeers(ns ...*relay) error {
	var b strings.Builder
	for _, n := range ns {
		fmt.Fprintf(&b, "%s %s\n", n.addr(), n.fp)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "peers"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return r.cmd.Process.Signal(syscall.SIGHUP)
}

type status struct {
	NeighboursUp int   `json:"neighbours_up"`
	Received     int64 `json:"blobs_received"`
	Stored       int64 `json:"blobs_stored"`
	Duplicates   int64 `json:"blobs_duplicate"`
	Relayed      int64 `json:"blobs_relayed"`
	QueueDrops   int64 `json:"queue_drops"`
	Cache        struct {
		Blobs int64 `json:"blobs"`
	} `json:"cache"`
	Rejects map[string]int64 `json:"rejects"`
}

var httpc = &http.Client{Timeout: 5 * time.Second}

func (r *relay) status() (status, error) {
	var s status
	resp, err := httpc.Get("http://" + r.admin + "/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

// waitStatus polls /status until cond holds or the deadline passes.
func (r *relay) waitStatus(what string, d time.Duration, cond func(status) bool) error {
	deadline := time.Now().Add(d)
	for {
		s, err := r.status()
		if err == nil && cond(s) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: timed out waiting for %s (last status %+v, %v)", r.name, what, s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *relay) client() (*peers.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return peers.DialClient(ctx, r.addr())
}

// profile saves a CPU profile of the next d into dir/NAME-phase.pprof, in the background; wait
// blocks until it is written.
func (r *relay) profile(dir, phase string, d time.Duration) (wait func()) {
	if r.pprof == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &http.Client{Timeout: d + 30*time.Second}
		resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", r.pprof, int(d.Seconds())))
		if err != nil {
			logf("profile %s: %v", r.name, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(dir, r.name+"-"+phase+".pprof"))
		if err != nil {
			return
		}
		defer f.Close()
		io.Copy(f, resp.Body)
	}()
	return func() { <-done }
}

// proc is what /proc says about a process at one moment.
type proc struct {
	rssKB      int64
	cpuTicks   int64 // utime + stime
	writeBytes int64 // bytes this process caused to be sent to the block layer
}

const clkTck = 100 // USER_HZ on Linux

func readProc(pid int) proc {
	var p proc
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				p.rssKB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the parenthesised command name; utime and stime are fields 14 and 15.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				p.cpuTicks = u + s
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
				p.writeBytes, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
	}
	return p
}

// sampler watches some relays during a phase: peak RSS, CPU and disk writes.
type sampler struct {
	relays []*relay
	start  []proc
	t0     time.Time
	mu     sync.Mutex
	peak   []int64
	stopc  chan struct{}
	done   chan struct{}
}

func newSampler(rs ...*relay) *sampler {
	s := &sampler{relays: rs, t0: time.Now(), peak: make([]int64, len(rs)), stopc: make(chan struct{}), done: make(chan struct{})}
	for _, r := range rs {
		s.start = append(s.start, readProc(r.pid()))
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-t.C:
			case <-s.stopc:
				return
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.relays {
		if p := readProc(r.pid()); p.rssKB > s.peak[i] {
			s.peak[i] = p.rssKB
		}
	}
}

// stop ends sampling and returns one RelayUse per relay; blobs[i] is what relay i stored in
// the phase (for disk bytes per blob).
func (s *sampler) stop(blobs []int64) []RelayUse {
	close(s.stopc)
	<-s.done
	s.sample()
	wall := time.Since(s.t0).Seconds()
	var out []RelayUse
	for i, r := range s.relays {
		end := readProc(r.pid())
		u := RelayUse{Relay: r.name, PeakRSSMB: float64(s.peak[i]) / 1024,
			CPUPercent: 100 * float64(end.cpuTicks-s.start[i].cpuTicks) / clkTck / wall,
			DiskBytes:  end.writeBytes - s.start[i].writeBytes}
		if blobs[i] > 0 {
			u.DiskBytesPerBlob = float64(u.DiskBytes) / float64(blobs[i])
			u.CPUMicrosPerBlob = 1e6 * float64(end.cpuTicks-s.start[i].cpuTicks) / clkTck / float64(blobs[i])
		}
		out = append(out, u)
	}
	return out
}
