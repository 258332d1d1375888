package echo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

func sampleEnvelope(t testing.TB, stamp int, payload int) []byte {
	t.Helper()
	e := Envelope{Expiry: 1_900_000_000, Stamp: bytes.Repeat([]byte{7}, stamp), Payload: bytes.Repeat([]byte{'p'}, payload)}
	e.Tag[0], e.Tag[31] = 0xAB, 0xCD
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvelopeRoundTripAndLayout(t *testing.T) {
	b := sampleEnvelope(t, 3, 10)
	if len(b) != 47+3+10 {
		t.Fatalf("len %d, want 60", len(b))
	}
	// Byte layout of PROTOCOL.md section 2.
	want := []byte{1, 0, 0, 0, 0, 0, 0x71, 0x3f, 0xb3, 0x00}
	if !bytes.Equal(b[:10], want) {
		t.Fatalf("header %x, want %x", b[:10], want)
	}
	if b[10] != 0xAB || b[41] != 0xCD || b[42] != 3 || !bytes.Equal(b[46:50], []byte{0, 0, 0, 10}) {
		t.Fatalf("tag/stamp/payload_len bytes wrong: %x", b)
	}
	e, err := ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Expiry != 1_900_000_000 || len(e.Stamp) != 3 || len(e.Payload) != 10 {
		t.Fatalf("parsed %+v", e)
	}
	again, _ := e.Marshal()
	if !bytes.Equal(again, b) {
		t.Fatal("marshal(parse(b)) != b")
	}
	if BlobID(b) == BlobID(again[:len(again)-1]) {
		t.Fatal("ids of different envelopes collide")
	}
}

func TestEnvelopeRejects(t *testing.T) {
	good := sampleEnvelope(t, 0, 5)
	cases := map[string][]byte{
		"short":         good[:20],
		"version":       append([]byte{2}, good[1:]...),
		"flags":         append([]byte{1, 1}, good[2:]...),
		"trailing":      append(append([]byte(nil), good...), 0),
		"truncated":     good[:len(good)-1],
		"stamp too big": func() []byte { b := append([]byte(nil), good...); b[42] = 33; return b }(),
	}
	for name, b := range cases {
		if _, err := ParseEnvelope(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want malformed", name, err)
		}
	}
}

func TestLimitsCheck(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := DefaultLimits()
	mk := func(exp int64, n int) []byte {
		e := Envelope{Expiry: exp, Payload: make([]byte, n)}
		b, _ := e.Marshal()
		return b
	}
	if _, err := l.Check(mk(now.Unix()+60, 10), now); err != nil {
		t.Fatalf("valid envelope rejected: %v", err)
	}
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"expired":     {mk(now.Unix(), 10), ErrExpired},
		"future":      {mk(now.Add(DefaultMaxTTL+DefaultMaxSkew).Unix()+1, 10), ErrTooFarFuture},
		"too large":   {mk(now.Unix()+60, DefaultMaxBlob), ErrTooLarge},
		"malformed":   {[]byte("garbage"), ErrMalformed},
		"edge ttl ok": {mk(now.Add(DefaultMaxTTL+DefaultMaxSkew).Unix(), 10), nil},
	} {
		_, err := l.Check(c.b, now)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
}

func TestFramesRoundTrip(t *testing.T) {
	env := sampleEnvelope(t, 0, 3)
	var tag Tag
	tag[5] = 9
	frames := []Frame{
		Hello{Version: 1, Role: RoleRelay, Features: 5, MaxBlob: 2 << 20, MaxTTL: 3600, ListenPort: 7788, StampBits: 8}.Frame(),
		{Type: FrameBlob, Body: env},
		Submit{Req: 7, Envelope: env}.Frame(),
		Ack{Req: 7, ID: BlobID(env), Status: AckDuplicate}.Frame(),
		ErrorFrame{Req: 7, Err: &Error{Code: CodeRateLimited, RetryAfter: 1500 * time.Millisecond, Msg: "slow down"}}.Frame(),
		Fetch{Req: 8, After: 42, Limit: 10, Tags: []Tag{tag, {}}}.Frame(),
		Item{Req: 8, Seq: 43, Envelope: env}.Frame(),
		End{Req: 8, Next: 43, More: true}.Frame(),
		Subscribe{Req: 9, After: 1}.Frame(),
		PingFrame(99), PongFrame(99),
	}
	var stream bytes.Buffer
	for _, f := range frames {
		stream.Write(f.Marshal())
	}
	r := bufio.NewReader(&stream)
	for i, want := range frames {
		got, err := ReadFrame(r, 1<<20)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got.Type != want.Type || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("frame %d differs", i)
		}
		if err := reparse(got); err != nil {
			t.Fatalf("frame %d (type %d): %v", i, got.Type, err)
		}
	}
	if _, err := ReadFrame(r, 1<<20); err != io.EOF {
		t.Fatalf("after last frame: %v, want EOF", err)
	}
	e, _ := ParseErrorFrame(frames[4].Body)
	if e.Err.Code != CodeRateLimited || e.Err.RetryAfter != 1500*time.Millisecond || e.Err.Msg != "slow down" {
		t.Fatalf("error frame parsed as %+v", e.Err)
	}
}

func TestReadFrameRejectsHugeLengthWithoutAllocating(t *testing.T) {
	for _, hdr := range [][]byte{{0xFF, 0xFF, 0xFF, 0xFF, 1}, {0, 0, 0, 0, 1}, {0, 0x21, 0, 0x41, 2}} {
		_, err := ReadFrame(bufio.NewReader(bytes.NewReader(hdr)), DefaultLimits().MaxFrame())
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("length %x: err %v, want malformed", hdr[:4], err)
		}
	}
	// A truncated frame is an unexpected EOF, not a clean one.
	_, err := ReadFrame(bufio.NewReader(bytes.NewReader([]byte{0, 0, 0, 9, 2, 1})), 100)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated: %v", err)
	}
	// So is a stream that ends inside the length prefix.
	_, err = ReadFrame(bufio.NewReader(bytes.NewReader([]byte{0, 0})), 100)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated length: %v", err)
	}
}

// reparse parses a frame's body with its typed parser and re-marshals it; it must be
// byte-identical.
// errNotByteExact is reparse's error for a body that parses but does not marshal back to
// the same bytes; any other error is the typed parser's.
var errNotByteExact = errors.New("parse then marshal is not byte-exact")

func reparse(f Frame) error {
	var g Frame
	switch f.Type {
	case FrameHello:
		h, err := ParseHello(f.Body)
		if err != nil {
			return err
		}
		g = h.Frame()
	case FrameBlob:
		e, err := ParseEnvelope(f.Body)
		if err != nil {
			return err
		}
		b, err := e.Marshal()
		if err != nil {
			return err
		}
		g = Frame{Type: FrameBlob, Body: b}
	case FrameSubmit:
		s, err := ParseSubmit(f.Body)
		if err != nil {
			return err
		}
		g = s.Frame()
	case FrameAck:
		a, err := ParseAck(f.Body)
		if err != nil {
			return err
		}
		g = a.Frame()
	case FrameError:
		e, err := ParseErrorFrame(f.Body)
		if err != nil {
			return err
		}
		g = e.Frame()
	case FrameFetch:
		q, err := ParseFetch(f.Body)
		if err != nil {
			return err
		}
		g = q.Frame()
	case FrameItem:
		it, err := ParseItem(f.Body)
		if err != nil {
			return err
		}
		g = it.Frame()
	case FrameEnd:
		e, err := ParseEnd(f.Body)
		if err != nil {
			return err
		}
		g = e.Frame()
	case FrameSubscribe:
		s, err := ParseSubscribe(f.Body)
		if err != nil {
			return err
		}
		g = s.Frame()
	case FramePing, FramePong:
		n, err := ParseNonce(f.Body)
		if err != nil {
			return err
		}
		g = PingFrame(n)
		g.Type = f.Type
	default:
		return nil
	}
	if g.Type != f.Type || !bytes.Equal(g.Body, f.Body) {
		return errNotByteExact
	}
	return nil
}
