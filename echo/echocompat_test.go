package echo

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
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
			m, err := ParseEchoMessage(b)
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
			if string(m.Content) != want[i] || m.Type != "" || !m.LengthOK {
				t.Fatalf("chunk %d message %d: %q (len ok %v)", chunk, i, m.Content, m.LengthOK)
			}
		}
	}
}

func TestEchoVariants(t *testing.T) {
	etag := "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60\r\n\r\nETag: 0123456789abcdef0123456789abcdef\r\n\r\ncontent=aGk=\r\n\r\n\r\n"
	wrongLen := strings.Replace(string(AppendEchoMessage(nil, "", []byte("hi"))), "Content-Length: 18", "Content-Length: 99", 1)
	noLen := "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\ncontent=aGk=\r\n\r\n\r\n"
	ident := "POST HTTP/1.1\r\nContent-Length: 40\r\n\r\ntype=0095a&content=aGk=;sha-512\r\n\r\n\r\n"
	msgs, errs := splitAll(t, []byte(etag+wrongLen+noLen+ident), 3, 1<<16)
	if len(errs) != 0 || len(msgs) != 4 {
		t.Fatalf("%d messages, errors %v", len(msgs), errs)
	}
	for i, m := range msgs {
		if string(m.Content) != "hi" {
			t.Errorf("message %d content %q", i, m.Content)
		}
	}
	if msgs[1].LengthOK || msgs[2].LengthOK {
		t.Error("a wrong or missing Content-Length was not flagged")
	}
	if msgs[3].Type != EchoTypeIdentity {
		t.Errorf("identity type %q", msgs[3].Type)
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
	for _, m := range []string{"GET / HTTP/1.1\r\n\r\ncontent=aGk=", "POST HTTP/1.1\r\n\r\nnothing", "POST HTTP/1.1\r\n\r\ncontent=!!!", "POST HTTP/1.1 no header end", "POST HTTP/1.1\r\n\r\ntype=0014"} {
		if _, err := ParseEchoMessage([]byte(m)); !errors.Is(err, ErrEchoMalformed) {
			t.Errorf("%q: %v", m, err)
		}
	}
}

// FuzzEchoSplitter: any stream split at any point yields the same messages and errors as the
// whole stream, and every accepted message re-encodes to content that parses back the same.
func FuzzEchoSplitter(f *testing.F) {
	f.Add(AppendEchoMessage(nil, "", []byte("seed")), 3)
	f.Add(append(AppendEchoMessage(nil, "0014", []byte("u\n1\nfull")), AppendEchoMessage(nil, "", []byte{0, 1, 2})...), 1)
	f.Add([]byte("POST HTTP/1.1\r\n\r\nETag: 00\r\n\r\ncontent=AA==\r\n\r\n\r\n"), 7)
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
		for i := range whole {
			if !bytes.Equal(whole[i].Content, parts[i].Content) || whole[i].Type != parts[i].Type {
				t.Fatalf("message %d differs", i)
			}
			again, _ := splitAll(t, AppendEchoMessage(nil, whole[i].Type, whole[i].Content), 1<<20, 1<<20)
			if len(again) != 1 || !bytes.Equal(again[0].Content, whole[i].Content) || !again[0].LengthOK {
				t.Fatalf("message %d does not re-encode: %q", i, strconv.Quote(string(whole[i].Content)))
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
