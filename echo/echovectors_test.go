package echo

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// echoVector is one file of testdata/echo: a message as an Echo node sends it and what a relay
// makes of it.
type echoVector struct {
	File      string `json:"file"`       // testdata/echo/<file>: the message, marker included
	Kind      string `json:"kind"`       // canonical, raw (carried whole), local (link-local) or malformed
	Type      string `json:"type"`       // the type field
	PayloadHx string `json:"payload"`    // hex of the blob payload (canonical and raw)
	DigestHx  string `json:"digest"`     // hex of EchoDigest
	LengthOK  bool   `json:"length_ok"`  // Content-Length matched
	HasHeader bool   `json:"has_header"` // a POST header
}

// echoVectorMessages are the inputs of testdata/echo, from the facts of issue 19 and
// PROTOCOL.md section 10; fixed randomness.
func echoVectorMessages() map[string][]byte {
	r := rand.New(rand.NewPCG(19, 10))
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	b64, raw := base64.StdEncoding.EncodeToString, base64.RawStdEncoding.EncodeToString
	form := func(body string) []byte {
		return []byte(echoHeadPrefix + fmt.Sprint(len(body)+len(EchoMarker)) + "\r\n\r\n" + body + string(EchoMarker))
	}
	return map[string][]byte{
		"canonical.msg":        AppendEchoMessage(nil, "", rnd(301)),
		"multi-padded.msg":     form("content=" + b64(rnd(100)) + "\n" + b64(rnd(64)) + "\n" + b64(rnd(20))),
		"multi-unpadded.msg":   form("content=" + raw(rnd(100)) + "\n" + raw(rnd(65)) + "\n" + raw(rnd(20))),
		"single-unpadded.msg":  form("content=" + raw(rnd(31))),
		"headerless.msg":       []byte("content=" + b64(rnd(40)) + "\n" + b64(rnd(41)) + string(EchoMarker)),
		"smoke-etag.msg":       form("ETag: " + hex.EncodeToString(rnd(16)) + "\r\n\r\ncontent=" + b64(rnd(50))),
		"wrong-length.msg":     bytes.Replace(AppendEchoMessage(nil, "", rnd(12)), []byte("Content-Length: 30"), []byte("Content-Length: 7"), 1),
		"typed-data.msg":       form("type=0030&content=" + b64(rnd(24))),
		"percent.msg":          form("content=" + strings.ReplaceAll(b64(rnd(60)), "+", "%2B")),
		"capabilities.msg":     AppendEchoMessage(nil, EchoTypeCapabilities, EchoCapabilities("{0b1c6a1e-3c46-4d6b-9d0f-8bb1f6f0a001}", 8388608, true)),
		"hello-0111.msg":       AppendEchoText(nil, EchoTypeHello, "Spot-On-Lite"),
		"identity-0095a.msg":   form("type=0095a&content=" + b64(rnd(64)) + ";sha-512"),
		"malformed-nohead.msg": []byte("POST HTTP/1.1\r\nContent-Length: 9" + string(EchoMarker)),
		"malformed-empty.msg":  form("content="),
	}
}

func describeEchoVector(name string, msg []byte) echoVector {
	v := echoVector{File: name, Kind: "malformed"}
	m, err := ParseEchoMessage(bytes.TrimSuffix(msg, EchoMarker))
	if err != nil {
		return v
	}
	v.Type, v.LengthOK, v.HasHeader = m.Type, m.LengthOK, m.Header
	v.DigestHx = fmt.Sprintf("%x", EchoDigest(m))
	switch {
	case EchoLinkLocal(m.Type):
		v.Kind = "local"
		return v
	case m.Canonical:
		v.Kind = "canonical"
	default:
		v.Kind = "raw"
	}
	v.PayloadHx = hex.EncodeToString(EchoPayload(m))
	return v
}

// TestEchoVectors checks testdata/echo: each message parses to what vectors.json says, and each
// data message's payload goes out byte-identical. ECHO_UPDATE_VECTORS=1 rewrites the files.
func TestEchoVectors(t *testing.T) {
	dir := filepath.Join("testdata", "echo")
	if os.Getenv("ECHO_UPDATE_VECTORS") != "" {
		os.MkdirAll(dir, 0o755)
		var vs []echoVector
		msgs := echoVectorMessages()
		for _, name := range sortedKeys(msgs) {
			if err := os.WriteFile(filepath.Join(dir, name), msgs[name], 0o644); err != nil {
				t.Fatal(err)
			}
			vs = append(vs, describeEchoVector(name, msgs[name]))
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "vectors.json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []echoVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 10 {
		t.Fatalf("only %d vectors", len(vs))
	}
	kinds := map[string]int{}
	for _, want := range vs {
		msg, err := os.ReadFile(filepath.Join(dir, want.File))
		if err != nil {
			t.Fatal(err)
		}
		got := describeEchoVector(want.File, msg)
		if got != want {
			t.Errorf("%s: got %+v\nwant %+v", want.File, got, want)
			continue
		}
		kinds[got.Kind]++
		if got.Kind == "canonical" || got.Kind == "raw" {
			p, _ := hex.DecodeString(got.PayloadHx)
			if out := AppendEchoPayload(nil, p); !bytes.Equal(out, msg) {
				t.Errorf("%s goes out as\n%q\nwant\n%q", want.File, out, msg)
			}
		}
	}
	for _, k := range []string{"canonical", "raw", "local", "malformed"} {
		if kinds[k] == 0 {
			t.Errorf("no %s vector", k)
		}
	}
}

func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}
