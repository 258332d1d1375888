package group

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"golang.org/x/crypto/chacha20poly1305"
	"os"
	"testing"
	"time"
)

// seeds are the vectors' payloads and blobs, for every fuzz target.
func seeds(f *testing.F) {
	raw, err := os.ReadFile(vectorPath)
	if err != nil {
		f.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		f.Fatal(err)
	}
	n := 0
	add := func(s string) {
		b, err := hex.DecodeString(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	for _, c := range v.Controls {
		add(c.Payload)
	}
	for _, b := range v.Bad {
		add(b.Payload)
	}
	for _, m := range v.Messages {
		add(m.Blob)
	}
	if n == 0 {
		f.Fatal("no seeds")
	}
}

func FuzzParseCommit(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommit(b)
		if err != nil {
			return
		}
		again, err := c.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("parse then marshal differs (%v)", err)
		}
	})
}

func FuzzParseSenderKey(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseSenderKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Marshal(), b) {
			t.Fatal("parse then marshal differs")
		}
	})
}

func FuzzParseProposal(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProposal(b)
		if err != nil {
			return
		}
		again, err := p.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("parse then marshal differs (%v)", err)
		}
	})
}

// FuzzReceive feeds any bytes to a member as a blob and as a control payload from another
// member: nothing panics, and what does not open changes no chain.
func FuzzReceive(f *testing.F) {
	seeds(f)
	ctx := context.Background()
	now := time.Date(2026, 3, 9, 20, 0, 0, 0, time.UTC)
	s := newSim(f, 2, 1)
	s.net.maxDelay, s.net.dupRate = 0, 0
	g0, err := s.sets[0].Create(ctx, s.trs[0], "f", PolicyOpen, []Member{{KeyHash: testKeyHash(s.fps[1]), FP: s.fps[1]}}, now)
	if err != nil {
		f.Fatal(err)
	}
	s.gid = g0.ID()
	for range 3 {
		s.step(all)
	}
	g1 := s.group(1)
	tr := &captureTransport{}
	for i := range 3 {
		if _, err := g1.SendText(ctx, tr, "seed", now.Add(time.Duration(i)*time.Second)); err != nil {
			f.Fatal(err)
		}
	}
	for _, b := range tr.blobs[1:] { // the first one stays unread: its key is a skipped one
		f.Add(b)
	}
	g0.Receive(tr.blobs[2:])
	f.Fuzz(func(t *testing.T, b []byte) {
		before := chainIndexes(g0)
		u := g0.Receive([][]byte{b})
		if len(u.Messages) == 0 && chainIndexes(g0) != before {
			t.Fatal("a blob that did not open moved a chain")
		}
		_, _ = g0.HandleControl(ctx, &captureTransport{}, s.fps[1], b, now)
	})
}

// FuzzAnnouncement encrypts any bytes as the body of an announcement under the group's
// current epoch (what a member holding the epoch secret could put) and feeds it to another
// member: nothing panics, and only a body with a verified signature adds a chain.
func FuzzAnnouncement(f *testing.F) {
	ctx := context.Background()
	now := time.Date(2026, 3, 9, 20, 0, 0, 0, time.UTC)
	s := newSim(f, 3, 1)
	s.net.maxDelay, s.net.dupRate = 0, 0
	g0, err := s.sets[0].Create(ctx, s.trs[0], "f", PolicyAdmin, []Member{{KeyHash: testKeyHash(s.fps[1]), FP: s.fps[1]}}, now)
	if err != nil {
		f.Fatal(err)
	}
	s.gid = g0.ID()
	for range 3 {
		s.step(all)
	}
	// A seed: the real body of member 1's announcement, decrypted.
	tr := &captureTransport{}
	if err := s.group(1).Reannounce(ctx, tr, now); err != nil || len(tr.blobs) != 1 {
		f.Fatalf("reannounce: %v", err)
	}
	g0.mu.Lock()
	es := g0.epochs[len(g0.epochs)-1]
	g0.mu.Unlock()
	ak := announceKey(es.secret, g0.ID())
	a, _ := chacha20poly1305.NewX(ak[:])
	blob := tr.blobs[0]
	body, err := a.Open(nil, blob[1:1+nonceLen], blob[1+nonceLen:], blob[:1+nonceLen])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add(body[:100])
	f.Fuzz(func(t *testing.T, body []byte) {
		nonce := make([]byte, nonceLen)
		b := append([]byte{announceVersion}, nonce...)
		b = a.Seal(b, nonce, body, b[:1+nonceLen])
		before := chainIndexes(g0)
		u := g0.Receive([][]byte{b})
		if len(u.Refused) == 0 && u.Skipped == 0 && chainIndexes(g0) == before && len(b) == AnnouncementSize {
			t.Fatal("an announcement neither refused, skipped nor applied")
		}
	})
}

func chainIndexes(g *Group) (sum uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.chains {
		for _, c := range l {
			sum += uint64(c.index)<<8 + uint64(len(l))
		}
	}
	return sum + uint64(len(g.skipped))<<32
}

// FuzzRestoreGroup: any bytes as a stored state; what restores marshals to the same bytes.
func FuzzRestoreGroup(f *testing.F) {
	ctx := context.Background()
	s := newSim(f, 3, 1)
	s.net.maxDelay, s.net.dupRate = 0, 0
	g, err := s.sets[0].Create(ctx, s.trs[0], "f", PolicyAdmin, []Member{{KeyHash: testKeyHash(s.fps[1]), FP: s.fps[1]}, {KeyHash: testKeyHash(s.fps[2]), FP: s.fps[2]}}, s.now)
	if err != nil {
		f.Fatal(err)
	}
	s.gid = g.ID()
	for range 3 {
		s.step(all)
	}
	s.send(1, "x")
	s.send(1, "y")
	for range 3 {
		s.step(all)
	}
	if err := g.Remove(ctx, s.trs[0], s.fps[2], s.now); err != nil {
		f.Fatal(err)
	}
	for range 3 {
		s.step(all)
	}
	for i := range 3 {
		f.Add(s.group(i).MarshalState())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := RestoreGroup(testCfg(s.fps[0]), b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.MarshalState(), b) {
			t.Fatal("restore then marshal differs")
		}
	})
}

// FuzzParseInner: the padded plaintext of a message body, as parseInner reads it after the
// AEAD; what parses re-encodes to the same bytes (fields, content, signature, zero padding).
func FuzzParseInner(f *testing.F) {
	for _, n := range []int{0, 5, 163, 164, 300} {
		in := make([]byte, 0, Padded(innerFixed+n+sigLen))
		in = append(in, 0, 0, 1, 2, 3, 4, 5, 6)
		in = append(in, bytes.Repeat([]byte{7}, 16)...)
		in = append(in, 1, 0, 0, byte(n>>8), byte(n))
		in = append(in, bytes.Repeat([]byte{'a'}, n)...)
		in = append(in, bytes.Repeat([]byte{9}, sigLen)...)
		f.Add(in[:Padded(len(in))])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, end, err := parseInner(b)
		if err != nil {
			return
		}
		out := binary.BigEndian.AppendUint64(nil, uint64(in.time.UnixMilli()))
		out = append(out, in.id[:]...)
		out = append(out, byte(in.typ))
		out = binary.BigEndian.AppendUint32(out, uint32(len(in.content)))
		out = append(out, in.content...)
		out = append(out, b[end-sigLen:end]...)
		out = append(out, make([]byte, len(b)-end)...)
		if !bytes.Equal(out, b) || len(b) != Padded(end) {
			t.Fatal("parse then encode differs")
		}
	})
}
