package echo

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEchoMessageLayout(t *testing.T) {
	m := AppendEchoMessage(nil, "", []byte("hi"))
	want := "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 18\r\n\r\ncontent=aGk=\r\n\r\n\r\n"
	if string(m) != want {
		t.Fatalf("got %q\nwant %q", m, want)
	}
	// Content-Length counts every byte after the blank line, marker included.
	_, body, _ := strings.Cut(string(m), "\r\n\r\n")
	if len(body) != 18 {
		t.Fatalf("body is %d bytes", len(body))
	}
	c := AppendEchoMessage(nil, EchoTypeCapabilities, EchoCapabilities("{u}", 1000, true))
	if !bytes.Contains(c, []byte("\r\n\r\ntype=0014&content=")) {
		t.Fatalf("control message: %q", c)
	}
	caps := EchoCapabilities("{u}", 1000, true)
	pct := AppendEchoText(nil, EchoTypeCapabilities, strings.ReplaceAll(base64.StdEncoding.EncodeToString(caps), "=", "%3D"))
	if p, err := ParseEchoMessage(bytes.TrimSuffix(pct, EchoMarker)); err != nil || !bytes.Equal(p.Content, caps) {
		t.Fatalf("percent-encoded capabilities %q: %q %v", pct, p.Content, err)
	}
	for _, msg := range [][]byte{c, pct, AppendEchoText(nil, EchoTypeHello, "Spot-On-Lite")} {
		p, err := ParseEchoMessage(bytes.TrimSuffix(msg, EchoMarker))
		if err != nil || !p.LengthOK || !EchoLinkLocal(p.Type) {
			t.Fatalf("%q: %+v %v", msg, p, err)
		}
	}
}

func splitAll(t *testing.T, stream []byte, chunk int, max int) (msgs []EchoMessage, errs []error) {
	t.Helper()
	sp := EchoSplitter{Max: max}
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		sp.Write(stream[:n], func(b []byte, err error) {
			if err != nil {
				errs = append(errs, err)
				return
			}
			m, err := ParseEchoMessage(bytes.Clone(b))
			if err != nil {
				errs = append(errs, err)
				return
			}
			msgs = append(msgs, m)
		})
		stream = stream[n:]
	}
	return msgs, errs
}

func TestEchoSplitterChunkings(t *testing.T) {
	var stream []byte
	var want []string
	for i := 0; i < 20; i++ {
		p := strings.Repeat(fmt.Sprint(i), i*37+1)
		want = append(want, p)
		stream = AppendEchoMessage(stream, "", []byte(p))
	}
	for _, chunk := range []int{1, 2, 5, 6, 7, 100, 4096, len(stream)} {
		msgs, errs := splitAll(t, stream, chunk, 1<<16)
		if len(errs) != 0 || len(msgs) != len(want) {
			t.Fatalf("chunk %d: %d messages, errors %v", chunk, len(msgs), errs)
		}
		for i, m := range msgs {
			if string(m.Content) != want[i] || m.Type != "" || !m.LengthOK || !m.Canonical {
				t.Fatalf("chunk %d message %d: %q (len ok %v)", chunk, i, m.Content, m.LengthOK)
			}
		}
	}
}

// Every data message an Echo node sends leaves byte-identical: canonical ones as their decoded
// content, all others whole.
func TestEchoVariants(t *testing.T) {
	etag := "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60\r\n\r\nETag: 0123456789abcdef0123456789abcdef\r\n\r\ncontent=aGk=\r\n\r\n\r\n"
	wrongLen := strings.Replace(string(AppendEchoMessage(nil, "", []byte("hi"))), "Content-Length: 18", "Content-Length: 99", 1)
	noLen := "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\ncontent=aGk=\r\n\r\n\r\n"
	ident := "POST HTTP/1.1\r\nContent-Length: 40\r\n\r\ntype=0095a&content=aGk=;sha-512\r\n\r\n\r\n"
	multi := "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\ncontent=aGk=\nYWI=\nYQ\r\n\r\n\r\n"
	headerless := "content=aGk\naGk\r\n\r\n\r\n"
	hello := "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 36\r\n\r\ntype=0111&content=Spot-On-Lite\r\n\r\n\r\n"
	stream := etag + wrongLen + noLen + ident + multi + headerless + hello
	msgs, errs := splitAll(t, []byte(stream), 3, 1<<16)
	if len(errs) != 0 || len(msgs) != 7 {
		t.Fatalf("%d messages, errors %v", len(msgs), errs)
	}
	if msgs[1].LengthOK || msgs[2].LengthOK || !msgs[4].LengthOK || msgs[5].Header {
		t.Error("Content-Length or header not flagged right")
	}
	if msgs[3].Type != EchoTypeIdentity || string(msgs[3].Content) != "hi" || msgs[6].Type != EchoTypeHello || string(msgs[6].Content) != "Spot-On-Lite" {
		t.Errorf("control messages: %+v %+v", msgs[3], msgs[6])
	}
	for i, w := range []string{etag, wrongLen, noLen, "", multi, headerless} {
		m := msgs[i]
		if w == "" {
			continue
		}
		if m.Canonical || EchoLinkLocal(m.Type) {
			t.Fatalf("message %d: canonical %v type %q", i, m.Canonical, m.Type)
		}
		p := EchoPayload(m)
		if !bytes.HasPrefix(p, []byte(EchoRawPrefix)) {
			t.Fatalf("message %d payload %q", i, p)
		}
		if out := AppendEchoPayload(nil, p); string(out) != w {
			t.Fatalf("message %d left as\n%q\nwant\n%q", i, out, w)
		}
	}
}

// A message longer than Max without a marker is discarded and reported once; the splitter
// resynchronises on the next marker and never glues two messages together.
func TestEchoSplitterOversize(t *testing.T) {
	good := AppendEchoMessage(nil, "", []byte("after"))
	huge := append([]byte("POST HTTP/1.1\r\nContent-Length: 1\r\n\r\ncontent="), bytes.Repeat([]byte("A"), 5000)...)
	huge = append(huge, EchoMarker...)
	stream := append(append(append([]byte{}, AppendEchoMessage(nil, "", []byte("before"))...), huge...), good...)
	for _, chunk := range []int{1, 64, 1000, len(stream)} {
		msgs, errs := splitAll(t, stream, chunk, 1024)
		if len(msgs) != 2 || string(msgs[0].Content) != "before" || string(msgs[1].Content) != "after" {
			t.Fatalf("chunk %d: messages %v", chunk, msgs)
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrEchoTooLarge) {
			t.Fatalf("chunk %d: errors %v, want one ErrEchoTooLarge", chunk, errs)
		}
	}
	// Memory stays bounded while the oversized message streams in.
	sp := EchoSplitter{Max: 1024}
	for i := 0; i < 1000; i++ {
		sp.Write(bytes.Repeat([]byte("B"), 1000), func([]byte, error) {})
		if sp.Buffered() > 2048 {
			t.Fatalf("splitter holds %d bytes", sp.Buffered())
		}
	}
}

func TestEchoMalformed(t *testing.T) {
	for _, m := range []string{"GET / HTTP/1.1\r\n\r\ncontent=aGk=", "POST HTTP/1.1\r\n\r\nnothing", "POST HTTP/1.1 no header end",
		"POST HTTP/1.1\r\n\r\ntype=0014", "POST HTTP/1.1\r\n\r\ncontent=", "content=\r\n", "type=0014&content=!!!", "ETag: 00", "hello"} {
		if _, err := ParseEchoMessage([]byte(m)); !errors.Is(err, ErrEchoMalformed) {
			t.Errorf("%q: %v", m, err)
		}
	}
}

// A payload a client made to look like a carried message goes out as content unless it is one
// forwardable data message.
func TestEchoRawPayloadChecked(t *testing.T) {
	for _, raw := range []string{"", "\r\ncontent=aGk", "content=a\r\n\r\n\r\ncontent=b", "content=a\r\n", "type=0014&content=aGk=",
		string(bytes.TrimSuffix(AppendEchoMessage(nil, "", []byte("hi")), EchoMarker)), "no form"} {
		p := []byte(EchoRawPrefix + raw)
		if out := AppendEchoPayload(nil, p); !bytes.Equal(out, AppendEchoMessage(nil, "", p)) {
			t.Errorf("%q went out as %q", raw, out)
		}
	}
	if out := AppendEchoPayload(nil, []byte(EchoRawPrefix+"content=a\r")); string(out) != "content=a\r\r\n\r\n\r\n" {
		t.Errorf("a message ending in CR: %q", out)
	}
	// Echo content that decodes to the prefix is carried whole, so the prefix always means raw.
	m := AppendEchoMessage(nil, "", []byte(EchoRawPrefix+"x"))
	p, err := ParseEchoMessage(bytes.TrimSuffix(m, EchoMarker))
	if err != nil || p.Canonical || !bytes.Equal(AppendEchoPayload(nil, EchoPayload(p)), m) {
		t.Fatalf("content with the raw prefix: %+v %v", p, err)
	}
}

func TestEchoCapabilitiesRoundTrip(t *testing.T) {
	u, w, full, err := ParseEchoCapabilities(EchoCapabilities("{a}", EchoMaxMessage(DefaultMaxBlob), false))
	if err != nil || u != "{a}" || w != EchoMaxMessage(DefaultMaxBlob) || full {
		t.Fatalf("%q %d %v %v", u, w, full, err)
	}
	if w < len(AppendEchoMessage(nil, "", make([]byte, DefaultMaxBlob))) {
		t.Fatalf("lane width %d is below the largest message sent", w)
	}
	for _, c := range []string{"", "a\nb", "a\n0\nfull", "a\nx\nfull"} {
		if _, _, _, err := ParseEchoCapabilities([]byte(c)); !errors.Is(err, ErrEchoMalformed) {
			t.Errorf("%q: %v", c, err)
		}
	}
}

// FuzzEchoSplitter: any stream split at any point yields the same messages and errors as the
// whole stream, and every data message leaves byte-identical through its payload.
func FuzzEchoSplitter(f *testing.F) {
	f.Add(AppendEchoMessage(nil, "", []byte("seed")), 3)
	f.Add(append(AppendEchoMessage(nil, "0014", []byte("u\n1\nfull")), AppendEchoMessage(nil, "", []byte{0, 1, 2})...), 1)
	f.Add([]byte("POST HTTP/1.1\r\n\r\nETag: 00\r\n\r\ncontent=AA==\r\n\r\n\r\n"), 7)
	for _, m := range echoVectorMessages() {
		f.Add(m, 5)
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk int) {
		if chunk <= 0 || chunk > len(stream) {
			chunk = len(stream) + 1
		}
		whole, werrs := splitAll(t, stream, len(stream)+1, 512)
		parts, perrs := splitAll(t, stream, chunk, 512)
		if len(whole) != len(parts) || len(werrs) != len(perrs) {
			t.Fatalf("whole: %d msgs %d errs; chunked by %d: %d msgs %d errs", len(whole), len(werrs), chunk, len(parts), len(perrs))
		}
		for i, err := range werrs {
			if k := echoErrKind(err); k == nil || k != echoErrKind(perrs[i]) {
				t.Fatalf("error %d: %v whole, %v chunked by %d; want the same sentinel", i, err, perrs[i], chunk)
			}
		}
		for i, m := range whole {
			if !bytes.Equal(m.Raw, parts[i].Raw) || m.Type != parts[i].Type {
				t.Fatalf("message %d differs", i)
			}
			if EchoLinkLocal(m.Type) {
				continue
			}
			out := AppendEchoPayload(nil, EchoPayload(m))
			if !bytes.Equal(out, append(bytes.Clone(m.Raw), EchoMarker...)) {
				t.Fatalf("message %d leaves as %q, want %q", i, out, m.Raw)
			}
			again, errs := splitAll(t, out, 1<<20, 1<<20)
			if len(again) != 1 || len(errs) != 0 || !bytes.Equal(EchoPayload(again[0]), EchoPayload(m)) || EchoDigest(again[0]) != EchoDigest(m) || EchoWireDigest(out) != EchoDigest(m) {
				t.Fatalf("message %d does not parse back the same", i)
			}
		}
	})
}

// echoErrKind is the sentinel that err wraps (ErrEchoMalformed or ErrEchoTooLarge), or nil.
func echoErrKind(err error) error {
	for _, k := range []error{ErrEchoMalformed, ErrEchoTooLarge} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// FuzzEchoCapabilities: capabilities that parse write back to content that parses the same.
func FuzzEchoCapabilities(f *testing.F) {
	f.Add([]byte("{0b1c6a1e-3c46-4d6b-9d0f-8bb1f6f0a001}\n8388608\nfull"))
	f.Add([]byte("u\n1\nhalf"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, c []byte) {
		u, w, full, err := ParseEchoCapabilities(c)
		if err != nil {
			return
		}
		u2, w2, full2, err := ParseEchoCapabilities(EchoCapabilities(u, w, full))
		if err != nil || u2 != u || w2 != w || full2 != full {
			t.Fatalf("%q: %q %d %v, again %q %d %v %v", c, u, w, full, u2, w2, full2, err)
		}
	})
}

// BenchmarkEchoCarry is the relay's work per Echo message of about 1 KiB: parse, payload, the
// message it sends on, and the digest of what it sent.
func BenchmarkEchoCarry(b *testing.B) {
	content := bytes.Repeat([]byte{0xa5}, 768)
	g := base64.StdEncoding.EncodeToString(content[:384])
	for name, msg := range map[string][]byte{
		"canonical":   AppendEchoMessage(nil, "", content),
		"multi-group": []byte(echoHeadPrefix + fmt.Sprint(len(g)*2+15) + "\r\n\r\ncontent=" + g + "\n" + g + string(EchoMarker)),
	} {
		b.Run(name, func(b *testing.B) {
			raw := bytes.TrimSuffix(msg, EchoMarker)
			var out []byte
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				m, err := ParseEchoMessage(raw)
				if err != nil {
					b.Fatal(err)
				}
				out = AppendEchoPayload(out[:0], EchoPayload(m))
				EchoWireDigest(out)
			}
			if !bytes.Equal(out, msg) {
				b.Fatalf("%s left as %q", name, out)
			}
		})
	}
}
