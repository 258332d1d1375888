package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
)

// arena is one relay process and what the attack needs to reach it.
type arena struct {
	dir   string
	cmd   *exec.Cmd
	port  int    // QUIC and TCP+TLS
	admin string // status page HOST:PORT
	dur   time.Duration
	tag   echo.Tag // the honest client's mailbox
	logf  *os.File
}

func newArena(bin string, at attack, dur time.Duration) (*arena, error) {
	dir, err := os.MkdirTemp("", "echorelay-hostile-")
	if err != nil {
		return nil, err
	}
	a := &arena{dir: dir, dur: dur}
	rand.Read(a.tag[:])
	args := []string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--ready-file", filepath.Join(dir, "ready.json")}
	if at.peers != nil {
		// The neighbour's port must be known before the relay starts: reserve one.
		l, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		pf, err := at.peers(dir, port)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "peers"), []byte(pf), 0o644); err != nil {
			return nil, err
		}
		os.WriteFile(filepath.Join(dir, "neighbour-port"), []byte(strconv.Itoa(port)), 0o644)
	}
	args = append(args, at.flags...)
	a.logf, _ = os.Create(filepath.Join(dir, "relay.log"))
	a.cmd = exec.Command(bin, args...)
	a.cmd.Stdout, a.cmd.Stderr = a.logf, a.logf
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "ready.json"))
		if err == nil {
			var rd struct {
				Port  int    `json:"port"`
				Admin string `json:"admin"`
			}
			if json.Unmarshal(b, &rd) == nil && rd.Port > 0 {
				a.port, a.admin = rd.Port, rd.Admin
				return a, nil
			}
		}
		if time.Now().After(deadline) {
			a.close()
			return nil, errors.New("relay did not become ready within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (a *arena) neighbourPort() int {
	b, _ := os.ReadFile(filepath.Join(a.dir, "neighbour-port"))
	n, _ := strconv.Atoi(string(b))
	return n
}

func (a *arena) addr() string { return "127.0.0.1:" + strconv.Itoa(a.port) }

// peakRSS is the relay's VmHWM: the largest resident set since it started.
func (a *arena) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

func (a *arena) close() {
	if a.cmd != nil && a.cmd.Process != nil {
		a.cmd.Process.Kill()
		a.cmd.Wait()
	}
	if a.logf != nil {
		a.logf.Close()
	}
	if os.Getenv("HOSTILE_KEEP") == "" {
		os.RemoveAll(a.dir)
	}
}

// lost counts the honest client's acknowledged blobs the relay no longer serves.
func (a *arena) lost(st honestStats) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := peers.DialClient(ctx, "tls://"+a.addr())
	if err != nil {
		return len(st.IDs)
	}
	defer c.Close()
	have := map[echo.ID]bool{}
	var after uint64
	for page := 0; page < 1000; page++ {
		items, next, more, err := c.Fetch(ctx, []echo.Tag{a.tag}, after, 0)
		if err != nil {
			var e *echo.Error
			if errors.As(err, &e) && e.Code == echo.CodeRateLimited {
				time.Sleep(e.RetryAfter)
				continue
			}
			return len(st.IDs)
		}
		for _, it := range items {
			have[echo.BlobID(it.Envelope)] = true
		}
		after = next
		if !more {
			break
		}
	}
	ids, err := st.ids()
	if err != nil {
		return len(st.IDs)
	}
	n := 0
	for _, id := range ids {
		if !have[id] {
			n++
		}
	}
	return n
}

// raw is a hand-driven TCP+TLS link from a chosen loopback address.
type raw struct {
	c *tls.Conn
	r *bufio.Reader
}

func rawTLSConfig(cert *tls.Certificate, curves ...tls.CurveID) *tls.Config {
	if len(curves) == 0 {
		curves = []tls.CurveID{tls.X25519MLKEM768}
	}
	c := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{peers.ALPN}, MinVersion: tls.VersionTLS13,
		ServerName: "echorelay", CurvePreferences: curves}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

func (a *arena) dialRaw(from string, cfg *tls.Config) (*raw, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", a.addr(), cfg)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(a.dur + 30*time.Second))
	return &raw{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

func (r *raw) send(f echo.Frame) error { _, err := r.c.Write(f.Marshal()); return err }

func (r *raw) hello(role uint8, port uint16) error {
	return r.send(echo.Hello{Version: echo.Version, Role: role, ListenPort: port}.Frame())
}

// closedWithin reports whether the relay closes the link within d (reading and dropping
// whatever it sends).
func (r *raw) closedWithin(d time.Duration) bool {
	r.c.SetReadDeadline(time.Now().Add(d))
	_, err := r.r.Discard(1 << 30)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// pool runs n connections' worth of fn from a few source addresses concurrently and waits.
func pool(n int, froms []string, fn func(i int, from string)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); fn(i, froms[i%len(froms)]) }()
	}
	wg.Wait()
}
