package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/peers"
)

func attacks() []attack {
	return []attack{
		{name: "unfinished-submit", run: unfinishedSubmits},
		{name: "fetch-no-read", run: fetchNoRead},
		{name: "cache-flush", flags: []string{"--max-store", "20000000"}, run: cacheFlush},
		{name: "impostor", peers: func(_ string, port int) (string, error) { return fmt.Sprintf("127.0.0.2:%d\n", port), nil }, run: impostor},
		{name: "slow-frames", peers: listedNeighbour, run: slowFrames},
		{name: "rebinding", run: rebinding},
		{name: "no-pq-kex", run: noPQ},
	}
}

func envelope(tag echo.Tag, ttl time.Duration, n int) []byte {
	p := make([]byte, n)
	rand.Read(p)
	e := echo.Envelope{Expiry: time.Now().Add(ttl).Unix(), Tag: tag, Payload: p}
	env, _ := e.Marshal()
	return env
}

// unfinishedSubmits: 255 links from two addresses, each with a SUBMIT announced at the
// largest blob, all of it sent but the last byte, then silence (the review: RSS 15 -> 564 MB).
func unfinishedSubmits(a *arena) (string, bool, error) {
	body := make([]byte, 4+echo.DefaultMaxBlob)
	rand.Read(body)
	frame := echo.AppendFrame(nil, echo.FrameSubmit, body)
	frame = frame[:len(frame)-1]
	var closed, opened, sent atomic.Int32
	end := time.Now().Add(a.dur)
	pool(255, []string{"127.0.0.2", "127.0.0.3"}, func(i int, from string) {
		r, err := a.dialRaw(from, rawTLSConfig(nil))
		if err != nil {
			return
		}
		defer r.c.Close()
		opened.Add(1)
		r.hello(echo.RoleClient, 0)
		r.c.SetWriteDeadline(end)
		if _, err := r.c.Write(frame); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				closed.Add(1) // the relay hung up while it was sent
			}
			return // else still unsent at the end: the relay read no more of it (flow control)
		}
		sent.Add(1)
		if r.closedWithin(time.Until(end)) {
			closed.Add(1)
		}
	})
	return fmt.Sprintf("%d links held a frame short of its end (%d got all of it sent; the others were not read further); the relay closed %d within %s",
		opened.Load(), sent.Load(), closed.Load(), a.dur), a.alive(), nil
}

// fetchNoRead: 30 MiB cached, then 200 links each ask for everything ten times and never read
// (the review: RSS 11.5 MB -> 1.29 GB).
func fetchNoRead(a *arena) (string, bool, error) {
	var stored atomic.Int32
	pool(30, []string{"127.0.0.10", "127.0.0.11", "127.0.0.12"}, func(i int, from string) {
		if ok, _ := a.rawPut(from, envelope(echo.Tag{}, 24*time.Hour, 1<<20)); ok {
			stored.Add(1)
		}
	})
	var opened atomic.Int32
	pool(200, []string{"127.0.0.2", "127.0.0.3"}, func(i int, from string) {
		r, err := a.dialRaw(from, rawTLSConfig(nil))
		if err != nil {
			return
		}
		defer r.c.Close()
		opened.Add(1)
		r.hello(echo.RoleClient, 0)
		r.c.SetWriteDeadline(time.Now().Add(a.dur))
		for req := range 10 {
			r.send(echo.Fetch{Req: uint32(req + 1)}.Frame())
		}
		time.Sleep(a.dur) // never read
	})
	return fmt.Sprintf("%d MiB cached; %d links asked for everything 10 times and never read", stored.Load(), opened.Load()), a.alive(), nil
}

// cacheFlush: a 20 MB cache; another address puts twelve 1.9 MB untagged blobs living 719 h
// (the review: a tagged 7-day message put earlier was evicted within seconds).
func cacheFlush(a *arena) (string, bool, error) {
	time.Sleep(time.Second) // the honest client has messages in the cache first
	var ok, refused atomic.Int32
	pool(12, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, func(i int, from string) {
		if put, err := a.rawPut(from, envelope(echo.Tag{}, 719*time.Hour, 1900000)); put {
			ok.Add(1)
		} else if err == nil {
			refused.Add(1)
		}
	})
	return fmt.Sprintf("filler: %d stored, %d refused", ok.Load(), refused.Load()), refused.Load() > 0, nil
}

// impostor: the peers file lists 127.0.0.2:PORT without a pin; another key connects from
// 127.0.0.2, claims that port in HELLO and floods 200 blobs (the review: all 200 stored).
func impostor(a *arena) (string, bool, error) {
	dir, err := os.MkdirTemp(a.dir, "impostor-")
	if err != nil {
		return "", false, err
	}
	id, err := peers.LoadOrCreateIdentity(dir)
	if err != nil {
		return "", false, err
	}
	r, err := a.dialRaw("127.0.0.2", rawTLSConfig(&id.Cert))
	if err != nil {
		return "refused at TLS: " + err.Error(), true, nil
	}
	defer r.c.Close()
	r.hello(echo.RoleRelay, uint16(a.neighbourPort()))
	ids := map[echo.ID]bool{}
	for range 200 {
		env := envelope(echo.Tag{}, time.Hour, 200)
		ids[echo.BlobID(env)] = true
		if r.send(echo.Frame{Type: echo.FrameBlob, Body: env}) != nil {
			break
		}
	}
	r.closedWithin(3 * time.Second)
	n := a.countStored(ids)
	return fmt.Sprintf("%d of 200 flooded blobs stored", n), n == 0, nil
}

// listedNeighbour lists a pinned neighbour at 127.0.0.6 (port 9: the relay's dials find no one;
// the neighbour calls in), its key kept in DIR/neighbour for slowFrames.
func listedNeighbour(dir string, _ int) (string, error) {
	id, err := peers.LoadOrCreateIdentity(filepath.Join(dir, "neighbour"))
	if err != nil {
		return "", err
	}
	return "127.0.0.6:9 " + id.Fingerprint + "\n", nil
}

// slowFrames: four addresses take every client connection slot (4 x 128 = 512), each link
// sending a largest-blob SUBMIT at 100 bytes/s; meanwhile a new client tries to connect (it
// shares the clients' slots and may be refused until they are closed) and a listed neighbour
// connects and floods a blob (it has slots of its own, and must get through).
func slowFrames(a *arena) (string, bool, error) {
	var open atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	var lastClose atomic.Int64
	for i := range 512 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("127.0.0.%d", 2+i%4)
			r, err := a.dialRaw(from, rawTLSConfig(nil))
			if err != nil {
				return
			}
			defer r.c.Close()
			open.Add(1)
			defer open.Add(-1)
			r.hello(echo.RoleClient, 0)
			hdr := binary.BigEndian.AppendUint32(nil, uint32(1+4+echo.DefaultMaxBlob))
			hdr = append(hdr, byte(echo.FrameSubmit))
			r.c.Write(hdr)
			chunk := make([]byte, 100)
			for time.Since(start) < a.dur {
				r.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				if _, err := r.c.Write(chunk); err != nil {
					lastClose.Store(int64(time.Since(start)))
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	c, err := peers.DialClient(ctx, "tls://"+a.addr())
	cancel()
	fresh := "a new client connected while they held on"
	if err != nil {
		fresh = "a new client was refused while they held on"
	} else {
		c.Close()
	}
	nb := a.listedNeighbourFloods()
	wg.Wait()
	left := open.Load()
	return fmt.Sprintf("slow links all gone after %.0f s, %d still open at the end; %s; the listed neighbour %s", time.Duration(lastClose.Load()).Seconds(), left, fresh, nb),
		left == 0 && nb == "linked", nil
}

// listedNeighbourFloods connects as the neighbour listedNeighbour pinned, from 127.0.0.6, and
// floods one blob then pings: "linked" when the PONG comes (a link that is no neighbour's is
// closed as not_neighbour at the BLOB, before the PING is read).
func (a *arena) listedNeighbourFloods() string {
	id, err := peers.LoadIdentity(filepath.Join(a.dir, "neighbour"))
	if err != nil {
		return "had no key: " + err.Error()
	}
	r, err := a.dialRaw("127.0.0.6", rawTLSConfig(&id.Cert))
	if err != nil {
		return "could not connect: " + err.Error()
	}
	defer r.c.Close()
	r.hello(echo.RoleRelay, 9)
	env := envelope(echo.Tag{}, time.Hour, 200)
	if err := r.send(echo.Frame{Type: echo.FrameBlob, Body: env}); err != nil {
		return "could not flood: " + err.Error()
	}
	if err := r.send(echo.PingFrame(42)); err != nil {
		return "could not ping: " + err.Error()
	}
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := echo.ReadFrame(r.r, 1<<20)
		if err != nil {
			return "was not served: " + err.Error()
		}
		switch f.Type {
		case echo.FramePong:
			return "linked"
		case echo.FrameError:
			e, _ := echo.ParseErrorFrame(f.Body)
			return fmt.Sprintf("was refused: %v", e.Err)
		}
	}
}

// rebinding: a request to the loopback status page that names another host (DNS rebinding).
func rebinding(a *arena) (string, bool, error) {
	req, _ := http.NewRequest("GET", "http://"+a.admin+"/status", nil)
	req.Host = "attacker.example"
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", false, err
	}
	resp.Body.Close()
	return fmt.Sprintf("GET /status with Host: attacker.example answered %d", resp.StatusCode), resp.StatusCode == http.StatusMisdirectedRequest, nil
}

// noPQ: a client offering only X25519 (as GODEBUG=tlsmlkem=0 would).
func noPQ(a *arena) (string, bool, error) {
	r, err := a.dialRaw("127.0.0.2", rawTLSConfig(nil, tls.X25519))
	if err != nil {
		return "refused in the handshake: " + err.Error(), true, nil
	}
	defer r.c.Close()
	r.hello(echo.RoleClient, 0)
	closed := r.closedWithin(5 * time.Second)
	return fmt.Sprintf("handshake completed without ML-KEM; link closed by the relay: %v", closed), closed, nil
}

// rawPut submits env from a chosen address and reports whether the relay stored it; err is
// set when no answer came.
func (a *arena) rawPut(from string, env []byte) (bool, error) {
	r, err := a.dialRaw(from, rawTLSConfig(nil))
	if err != nil {
		return false, err
	}
	defer r.c.Close()
	r.hello(echo.RoleClient, 0)
	for try := 0; try < 20; try++ {
		if err := r.send(echo.Submit{Req: 1, Envelope: env}.Frame()); err != nil {
			return false, err
		}
		for {
			r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			f, err := echo.ReadFrame(r.r, echo.DefaultMaxBlob+echo.MaxFrameExtra)
			if err != nil {
				return false, err
			}
			switch f.Type {
			case echo.FrameAck:
				return true, nil
			case echo.FrameError:
				e, err := echo.ParseErrorFrame(f.Body)
				if err != nil {
					return false, err
				}
				if e.Err.Code == echo.CodeRateLimited && e.Err.RetryAfter > 0 && e.Err.RetryAfter < 20*time.Second {
					time.Sleep(e.Err.RetryAfter)
					goto again
				}
				return false, nil
			}
		}
	again:
	}
	return false, nil
}

// countStored counts which of ids the relay serves.
func (a *arena) countStored(ids map[echo.ID]bool) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := peers.DialClient(ctx, "tls://"+a.addr())
	if err != nil {
		return -1
	}
	defer c.Close()
	n := 0
	var after uint64
	for page := 0; page < 1000; page++ {
		items, next, more, err := c.Fetch(ctx, nil, after, 0)
		if err != nil {
			return -1
		}
		for _, it := range items {
			if ids[echo.BlobID(it.Envelope)] {
				n++
			}
		}
		after = next
		if !more {
			break
		}
	}
	return n
}

// alive reports whether the relay still accepts a client.
func (a *arena) alive() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := peers.DialClient(ctx, "tls://"+a.addr())
	if err != nil {
		return false
	}
	c.Close()
	return true
}
