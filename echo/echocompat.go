package echo

import (
	"bytes"
	"crypto/sha256"
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
//	[ETag: <hex>\r\n\r\n][type=TTTT&]content=<value>\r\n\r\n\r\n
//
// where N counts every byte after the blank line, the 6-byte end marker included. The header
// may be missing (Spot-On-Lite relays such "header-less" messages), and <value> is anything
// without the marker: one Base64 group, several groups joined by "\n" (Spot-On's data), padded
// or not, or plain text (0111's "Spot-On-Lite").
//
// A relay carries an Echo data message so that it leaves towards other Echo nodes
// byte-identical (EchoPayload, AppendEchoPayload): a message in the one canonical form
// (AppendEchoMessage of its decoded content) travels as its decoded content, so our own blobs
// and Echo's single-group messages look the same in both networks; every other message travels
// whole, as EchoRawPrefix followed by its bytes.

// EchoMarker ends every Echo message; Spot-On-Lite and SmokeStack split the stream on it.
var EchoMarker = []byte("\r\n\r\n\r\n")

const echoHeadPrefix = "POST HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "

// EchoRawPrefix starts the payload of a blob that carries a whole Echo message (without its end
// marker) rather than a decoded content: 10 bytes, "\x00echo-raw\x00".
const EchoRawPrefix = "\x00echo-raw\x00"

// EchoHeaderAllowance is the room a message may take beyond its Base64 content: the header,
// an ETag line, the type field and the marker. Spot-On's headers are about 100 bytes.
const EchoHeaderAllowance = 4096

// Echo message types. Data has no type or a type that is not link-local; the link-local ones
// (capabilities, identity, hello) are answered or recorded on the link and never forwarded.
const (
	EchoTypeCapabilities = "0014"  // base64 of "uuid\nlane_width\nfull|half", a keep-alive
	EchoTypeIdentity     = "0095a" // a client's 64-byte identity for filtering: "<b64>;sha-512"
	EchoTypeHello        = "0111"  // plain text, "Spot-On-Lite", sent every 45 s by Spot-On-Lite
)

// EchoLinkLocal reports whether messages of type typ stay on the link they arrive on.
func EchoLinkLocal(typ string) bool {
	return typ == EchoTypeCapabilities || typ == EchoTypeIdentity || typ == EchoTypeHello
}

// EchoMessage is one parsed Echo message. Its slices alias the bytes it was parsed from.
type EchoMessage struct {
	Type string // "" for untyped data
	// Content is the content field: decoded from Base64 for 0014, 0095a (the identity before
	// ";sha-512") and canonical data; as sent for every other message.
	Content []byte
	Raw     []byte // the whole message without its marker, leading line breaks removed
	Body    []byte // Raw after the header's blank line; all of Raw for a header-less message
	Header  bool   // it starts with a POST header
	// LengthOK is false when a header's Content-Length was missing or disagreed with the bytes
	// present; such messages are still accepted (as Spot-On-Lite does) and counted.
	LengthOK bool
	// Canonical is true for untyped data in exactly the form AppendEchoMessage gives its
	// decoded Content: it travels as that content.
	Canonical bool
}

// Errors of the Echo codec.
var (
	ErrEchoMalformed = errors.New("malformed echo message")
	ErrEchoTooLarge  = errors.New("echo message exceeds the size limit without an end marker")
)

// EchoMaxMessage is the largest Echo message a relay with the given max_blob sends or accepts,
// marker included: the Base64 of a max_blob payload plus EchoHeaderAllowance. It is the lane
// width a relay advertises in its capabilities.
func EchoMaxMessage(maxBlob int) int {
	return base64.StdEncoding.EncodedLen(maxBlob) + EchoHeaderAllowance
}

// AppendEchoMessage appends one Echo message with a correct Content-Length.
func AppendEchoMessage(dst []byte, typ string, content []byte) []byte {
	n := len("content=") + base64.StdEncoding.EncodedLen(len(content)) + len(EchoMarker)
	if typ != "" {
		n += len("type=&") + len(typ)
	}
	dst = append(dst, echoHeadPrefix...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "\r\n\r\n"...)
	if typ != "" {
		dst = append(dst, "type="...)
		dst = append(dst, typ...)
		dst = append(dst, '&')
	}
	dst = append(dst, "content="...)
	dst = base64.StdEncoding.AppendEncode(dst, content)
	return append(dst, EchoMarker...)
}

// AppendEchoText appends one message whose content is sent as given, not Base64 (0111).
func AppendEchoText(dst []byte, typ string, content string) []byte {
	body := "type=" + typ + "&content=" + content
	dst = append(dst, echoHeadPrefix...)
	dst = strconv.AppendInt(dst, int64(len(body)+len(EchoMarker)), 10)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, body...)
	return append(dst, EchoMarker...)
}

// EchoCapabilities is the content of a 0014 message.
func EchoCapabilities(uuid string, laneWidth int, full bool) []byte {
	mode := "half"
	if full {
		mode = "full"
	}
	return []byte(uuid + "\n" + strconv.Itoa(laneWidth) + "\n" + mode)
}

// ParseEchoCapabilities reads the content of a 0014 message.
func ParseEchoCapabilities(c []byte) (uuid string, laneWidth int, full bool, err error) {
	f := strings.Split(string(c), "\n")
	if len(f) != 3 {
		return "", 0, false, fmt.Errorf("%w: capabilities have %d lines, want 3", ErrEchoMalformed, len(f))
	}
	w, err := strconv.Atoi(strings.TrimSpace(f[1]))
	if err != nil || w <= 0 {
		return "", 0, false, fmt.Errorf("%w: lane width %q", ErrEchoMalformed, f[1])
	}
	return f[0], w, strings.TrimSpace(f[2]) != "half", nil
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
	m.Raw, m.Body = msg, msg
	if bytes.HasPrefix(msg, []byte("POST ")) {
		head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
		if !ok {
			return m, fmt.Errorf("%w: no header end", ErrEchoMalformed)
		}
		m.Header, m.Body = true, body
		length := -1
		for _, l := range strings.Split(string(head), "\r\n")[1:] {
			k, v, _ := strings.Cut(l, ":")
			if strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
					length = n
				}
			}
		}
		m.LengthOK = length == len(body)+len(EchoMarker)
	}
	form := m.Body
	// Smoke and SmokeStack may put a random "ETag: <32 hex>" line and a blank line first.
	etag := false
	for bytes.HasPrefix(form, []byte("ETag:")) {
		_, rest, ok := bytes.Cut(form, []byte("\r\n"))
		if !ok {
			return m, fmt.Errorf("%w: unterminated ETag line", ErrEchoMalformed)
		}
		form, etag = bytes.TrimLeft(rest, "\r\n"), true
	}
	if bytes.HasPrefix(form, []byte("type=")) {
		t, rest, ok := bytes.Cut(form[len("type="):], []byte("&"))
		if !ok {
			return m, fmt.Errorf("%w: type without content", ErrEchoMalformed)
		}
		if len(t) == 0 || len(t) > 16 {
			return m, fmt.Errorf("%w: type of %d bytes", ErrEchoMalformed, len(t))
		}
		m.Type, form = string(t), rest
	}
	if !bytes.HasPrefix(form, []byte("content=")) {
		if m.Header {
			return m, fmt.Errorf("%w: no content field", ErrEchoMalformed)
		}
		return m, fmt.Errorf("%w: neither a POST header nor a content field", ErrEchoMalformed)
	}
	v := form[len("content="):]
	switch m.Type {
	case EchoTypeCapabilities, EchoTypeIdentity:
		s := strings.TrimRight(string(v), "\r\n")
		if m.Type == EchoTypeIdentity {
			s, _, _ = strings.Cut(s, ";")
		}
		c, err := decodeLoose(s)
		if err != nil {
			return m, fmt.Errorf("%w: %s content is not base64", ErrEchoMalformed, m.Type)
		}
		m.Content = c
		return m, nil
	case "":
		if len(bytes.TrimRight(v, "\r\n")) == 0 {
			return m, fmt.Errorf("%w: empty content", ErrEchoMalformed)
		}
		if c, ok := canonicalContent(m, etag, v); ok {
			m.Content, m.Canonical = c, true
			return m, nil
		}
	}
	m.Content = v
	return m, nil
}

// decodeLoose decodes Base64 with or without padding, percent-encoded or not.
func decodeLoose(s string) ([]byte, error) {
	if strings.ContainsRune(s, '%') {
		u, err := url.QueryUnescape(s)
		if err != nil {
			return nil, err
		}
		s = u
	}
	c, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		c, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	return c, err
}

// canonicalContent decodes v when m is exactly what AppendEchoMessage makes of the result.
func canonicalContent(m EchoMessage, etag bool, v []byte) ([]byte, bool) {
	if !m.Header || etag || bytes.ContainsAny(v, "\r\n") {
		return nil, false
	}
	head := len(m.Raw) - len(m.Body)
	want := echoHeadPrefix + strconv.Itoa(len(m.Body)+len(EchoMarker)) + "\r\n\r\n"
	if string(m.Raw[:head]) != want || !bytes.HasPrefix(m.Body, []byte("content=")) {
		return nil, false
	}
	c, err := base64.StdEncoding.Strict().DecodeString(string(v))
	if err != nil || len(c) == 0 || bytes.HasPrefix(c, []byte(EchoRawPrefix)) {
		return nil, false
	}
	return c, true
}

// EchoPayload is the payload of the blob that carries data message m: its decoded content when
// m is canonical, else EchoRawPrefix and the message's bytes.
func EchoPayload(m EchoMessage) []byte {
	if m.Canonical {
		return m.Content
	}
	p := make([]byte, 0, len(EchoRawPrefix)+len(m.Raw))
	return append(append(p, EchoRawPrefix...), m.Raw...)
}

// AppendEchoPayload appends the Echo message that carries a blob's payload: the message itself
// for a payload that EchoPayload made of a non-canonical message (byte-identical to what the
// Echo node sent), else a data message with the payload as content. A payload that starts with
// EchoRawPrefix but holds no forwardable message (any client may send one) goes as content.
func AppendEchoPayload(dst, payload []byte) []byte {
	if raw, ok := bytes.CutPrefix(payload, []byte(EchoRawPrefix)); ok && forwardableRaw(raw) {
		return append(append(dst, raw...), EchoMarker...)
	}
	return AppendEchoMessage(dst, "", payload)
}

// forwardableRaw reports whether raw, sent with a marker, is read back by an Echo node as the
// one data message raw.
func forwardableRaw(raw []byte) bool {
	if len(raw) == 0 || raw[0] == '\r' || raw[0] == '\n' {
		return false
	}
	// The first marker must be the one we append: raw holds none, and its last bytes do not
	// complete one early (raw ending in "\r\n" would).
	if bytes.Contains(raw, EchoMarker) {
		return false
	}
	tail := raw[max(0, len(raw)-len(EchoMarker)+1):]
	edge := append(append(make([]byte, 0, 2*len(EchoMarker)), tail...), EchoMarker...)
	if bytes.Index(edge, EchoMarker) != len(tail) {
		return false
	}
	m, err := ParseEchoMessage(raw)
	return err == nil && !m.Canonical && !EchoLinkLocal(m.Type)
}

// EchoDigest identifies an Echo message for loop detection: SHA-256 of its body (the bytes
// after the header's blank line, or the whole header-less message), so that copies that differ
// only in their header count as one.
func EchoDigest(m EchoMessage) [32]byte { return sha256.Sum256(m.Body) }

// EchoWireDigest is EchoDigest of a message as AppendEchoPayload wrote it (marker included),
// without parsing its content.
func EchoWireDigest(msg []byte) [32]byte {
	msg = bytes.TrimSuffix(bytes.TrimLeft(msg, "\r\n"), EchoMarker)
	if bytes.HasPrefix(msg, []byte("POST ")) {
		if _, body, ok := bytes.Cut(msg, []byte("\r\n\r\n")); ok {
			msg = body
		}
	}
	return sha256.Sum256(msg)
}
