package echo

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Echo compatibility: the message format of the existing Echo relays (Spot-On, Spot-On-Lite,
// SmokeStack). PROTOCOL.md section 10 states what is supported. A message on an Echo link is
//
//	POST HTTP/1.1\r\n
//	Content-Type: application/x-www-form-urlencoded\r\n
//	Content-Length: N\r\n
//	\r\n
//	[type=TTTT&]content=<base64>\r\n\r\n\r\n
//
// where N counts every byte after the blank line, the 6-byte end marker included.

// EchoMarker ends every Echo message; Spot-On-Lite and SmokeStack split the stream on it.
var EchoMarker = []byte("\r\n\r\n\r\n")

const echoHeadPrefix = "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "

// Echo control message types.
const (
	EchoTypeCapabilities = "0014"  // base64 of "uuid\nlane_width\nfull|half", a keep-alive
	EchoTypeIdentity     = "0095a" // a client's 64-byte identity for filtering: "<b64>;sha-512"
)

// EchoMessage is one parsed Echo message.
type EchoMessage struct {
	Type    string // "" for data
	Content []byte // decoded content (for 0095a: the decoded identity)
	// LengthOK is false when Content-Length was missing or disagreed with the bytes present;
	// such messages are still accepted (as Spot-On-Lite does) and counted.
	LengthOK bool
}

// Errors of the Echo codec.
var (
	ErrEchoMalformed = errors.New("malformed echo message")
	ErrEchoTooLarge  = errors.New("echo message exceeds the size limit without an end marker")
)

// AppendEchoMessage appends one Echo message with a correct Content-Length.
func AppendEchoMessage(dst []byte, typ string, content []byte) []byte {
	body := make([]byte, 0, len(typ)+14+base64.StdEncoding.EncodedLen(len(content))+len(EchoMarker))
	if typ != "" {
		body = append(body, "type="...)
		body = append(body, typ...)
		body = append(body, '&')
	}
	body = append(body, "content="...)
	body = base64.StdEncoding.AppendEncode(body, content)
	body = append(body, EchoMarker...)
	dst = append(dst, echoHeadPrefix...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// EchoCapabilities is the content of a 0014 message.
func EchoCapabilities(uuid string, laneWidth int, full bool) []byte {
	mode := "half"
	if full {
		mode = "full"
	}
	return []byte(uuid + "\n" + strconv.Itoa(laneWidth) + "\n" + mode)
}

// EchoSplitter cuts an Echo byte stream into messages on the end marker. It never glues two
// messages together: bytes beyond Max without a marker are discarded up to the next marker and
// reported once as ErrEchoTooLarge.
type EchoSplitter struct {
	Max  int // largest message in bytes, marker included
	buf  []byte
	skip bool // discarding an oversized message until its marker
}

// Write adds received bytes; for each complete message it calls fn with the message bytes
// (without the marker, valid only during the call) or with an error for a discarded one.
func (s *EchoSplitter) Write(p []byte, fn func(msg []byte, err error)) {
	s.buf = append(s.buf, p...)
	for {
		i := bytes.Index(s.buf, EchoMarker)
		if i < 0 {
			if len(s.buf) > s.Max {
				if !s.skip {
					fn(nil, ErrEchoTooLarge)
				}
				s.skip = true
				// Keep the tail that could start a marker.
				keep := len(EchoMarker) - 1
				s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
			}
			return
		}
		msg := s.buf[:i]
		if s.skip {
			s.skip = false
		} else if i+len(EchoMarker) > s.Max {
			fn(nil, ErrEchoTooLarge)
		} else {
			fn(msg, nil)
		}
		s.buf = append(s.buf[:0], s.buf[i+len(EchoMarker):]...)
	}
}

// Buffered is the number of bytes held waiting for a marker.
func (s *EchoSplitter) Buffered() int { return len(s.buf) }

// ParseEchoMessage parses one message as cut by EchoSplitter (without its marker).
func ParseEchoMessage(msg []byte) (EchoMessage, error) {
	var m EchoMessage
	// Tolerate stray line breaks between messages.
	msg = bytes.TrimLeft(msg, "\r\n")
	head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		return m, fmt.Errorf("%w: no header end", ErrEchoMalformed)
	}
	lines := strings.Split(string(head), "\r\n")
	if !strings.HasPrefix(lines[0], "POST ") {
		return m, fmt.Errorf("%w: does not start with POST", ErrEchoMalformed)
	}
	length := -1
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		if strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
				length = n
			}
		}
	}
	m.LengthOK = length == len(body)+len(EchoMarker)
	// Smoke and SmokeStack may put a random "ETag: <32 hex>" line and a blank line first.
	for bytes.HasPrefix(body, []byte("ETag:")) {
		_, rest, ok := bytes.Cut(body, []byte("\r\n"))
		if !ok {
			return m, fmt.Errorf("%w: unterminated ETag line", ErrEchoMalformed)
		}
		body = bytes.TrimLeft(rest, "\r\n")
	}
	form := string(body)
	if strings.HasPrefix(form, "type=") {
		t, rest, ok := strings.Cut(form[len("type="):], "&")
		if !ok {
			return m, fmt.Errorf("%w: type without content", ErrEchoMalformed)
		}
		m.Type, form = t, rest
	}
	if !strings.HasPrefix(form, "content=") {
		return m, fmt.Errorf("%w: no content field", ErrEchoMalformed)
	}
	b64 := strings.TrimRight(form[len("content="):], "\r\n")
	if m.Type == EchoTypeIdentity {
		b64, _, _ = strings.Cut(b64, ";")
	}
	if strings.ContainsRune(b64, '%') {
		u, err := url.QueryUnescape(b64)
		if err != nil {
			return m, fmt.Errorf("%w: bad percent-encoding", ErrEchoMalformed)
		}
		b64 = u
	}
	c, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		c, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
	}
	if err != nil {
		return m, fmt.Errorf("%w: content is not base64", ErrEchoMalformed)
	}
	m.Content = c
	return m, nil
}
