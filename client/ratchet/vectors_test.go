package ratchet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

// recorder hands out the bytes of r and keeps them, so a vector lists every random byte an
// implementation draws, in order.
type recorder struct {
	r   io.Reader
	got []byte
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := io.ReadFull(rc.r, p)
	rc.got = append(rc.got, p[:n]...)
	return n, err
}

func (rc *recorder) take() string {
	s := hex.EncodeToString(rc.got)
	rc.got = nil
	return s
}

// vectorFile is testdata/vectors.json.
type vectorFile struct {
	Comment  string          `json:"comment"`
	Sessions []vectorSession `json:"sessions"`
}

type vectorSession struct {
	AD         string       `json:"ad"`
	Secret     string       `json:"secret"`
	StarterKey string       `json:"starter_dh_priv"` // the ratchet key the starter sent
	SenderRand string       `json:"sender_rand"`     // what NewSender draws
	Steps      []vectorStep `json:"steps"`
	// The SHA-256 of both states' Marshal at the end.
	SenderState  string `json:"sender_state_sha256"`
	StarterState string `json:"starter_state_sha256"`
}

type vectorStep struct {
	From     string `json:"from"` // "sender" or "starter"
	TimeMS   int64  `json:"time_ms"`
	Text     string `json:"text"`
	Deliver  bool   `json:"deliver"`   // false: lost (opened later by a step with Late)
	Late     int    `json:"late"`      // >0: after this step, step Late-1 arrives
	SealRand string `json:"seal_rand"` // drawn by Seal
	OpenRand string `json:"open_rand"` // drawn by the receiver's Open (new keys, encapsulation)
	Payload  string `json:"payload"`
	// Refused: the payload with byte Flip xored by 1 must not open.
	Flip int `json:"flip"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// script is the conversation of the vectors: sends alternate in runs, one message is lost
// and arrives late, and the KEM ratchet completes an epoch.
func script() []vectorStep {
	var out []vectorStep
	for i := range 24 {
		from := "sender"
		if (i/3)%2 == 1 {
			from = "starter"
		}
		st := vectorStep{From: from, TimeMS: t0.Add(time.Duration(i) * time.Minute).UnixMilli(), Text: fmt.Sprintf("vector message %d", i), Deliver: true, Flip: 1 + (i*37)%900}
		if i == 7 {
			st.Deliver = false
		}
		if i == 13 {
			st.Late = 8
		}
		out = append(out, st)
	}
	return out
}

func runVectors(t *testing.T, v *vectorSession) {
	t.Helper()
	ad, secret := unhex(t, v.AD), unhex(t, v.Secret)
	var priv [32]byte
	copy(priv[:], unhex(t, v.StarterKey))
	rng := &recorder{r: seeded(2026)}
	replay := func(s string) io.Reader { return bytes.NewReader(unhex(t, s)) }
	gen := *update
	src := func(s string) io.Reader {
		if gen {
			return rng
		}
		return replay(s)
	}
	starter, err := NewReceiver(src(""), ad, secret, priv, t0)
	if err != nil {
		t.Fatal(err)
	}
	pub := starter.dhsPub
	sender, err := NewSender(src(v.SenderRand), ad, secret, pub, t0)
	if err != nil {
		t.Fatal(err)
	}
	if gen {
		v.SenderRand = rng.take()
	}
	payloads := map[int][]byte{}
	for i := range v.Steps {
		st := &v.Steps[i]
		from, to := sender, starter
		if st.From == "starter" {
			from, to = starter, sender
		}
		from.SetRand(src(st.SealRand))
		at := time.UnixMilli(st.TimeMS)
		p, err := from.Seal(text(st.Text, at))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if gen {
			st.SealRand, st.Payload = rng.take(), hex.EncodeToString(p)
		} else if hex.EncodeToString(p) != st.Payload {
			t.Fatalf("step %d: the payload differs from the vector", i)
		}
		payloads[i] = p
		if st.Deliver {
			// A refused copy draws from a throwaway source: its draws are not part of
			// the vector.
			to.SetRand(seeded(0))
			q := bytes.Clone(p)
			q[st.Flip%len(q)] ^= 1
			if _, err := to.Open(q, at); err == nil {
				t.Fatalf("step %d: the payload with byte %d flipped opens", i, st.Flip)
			}
		}
		to.SetRand(src(st.OpenRand))
		if st.Deliver {
			mustOpen(t, to, p, at, st.Text)
		}
		if st.Late > 0 {
			// The lost message arrives now, after its chain was retired (a skipped key).
			late := sender
			if v.Steps[st.Late-1].From == "sender" {
				late = starter
			}
			mustOpen(t, late, payloads[st.Late-1], at, v.Steps[st.Late-1].Text)
		}
		if gen {
			st.OpenRand = rng.take()
		}
	}
	sum := func(s *Session) string { h := sha256.Sum256(s.Marshal()); return hex.EncodeToString(h[:]) }
	if gen {
		v.SenderState, v.StarterState = sum(sender), sum(starter)
		return
	}
	if sum(sender) != v.SenderState || sum(starter) != v.StarterState {
		t.Fatal("the final states differ from the vector")
	}
	if sender.KEMEpoch() < 2 {
		t.Fatal("the vectors do not cover a mixed KEM secret")
	}
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	if *update {
		r := seeded(1000)
		secret := make([]byte, 32)
		io.ReadFull(r, secret)
		priv, _, _ := NewKey(r)
		v := vectorSession{AD: hex.EncodeToString([]byte("echorelay ratchet vector ad")), Secret: hex.EncodeToString(secret),
			StarterKey: hex.EncodeToString(priv[:]), Steps: script()}
		runVectors(t, &v)
		f := vectorFile{Comment: "PROTOCOL.md 7.8: a ratchet session replayed from its random bytes; regenerate with go test -run TestVectors -update", Sessions: []vectorSession{v}}
		b, err := json.MarshalIndent(f, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Sessions) == 0 || len(f.Sessions[0].Steps) == 0 {
		t.Fatal("no vectors")
	}
	for i := range f.Sessions {
		*update = false
		runVectors(t, &f.Sessions[i])
	}
}

// vectorPayloads are the payloads of the vectors, for the fuzz seeds.
func vectorPayloads(t testing.TB) [][]byte {
	b, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, s := range f.Sessions {
		for _, st := range s.Steps {
			p, err := hex.DecodeString(st.Payload)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
	}
	return out
}
