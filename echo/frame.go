package echo

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// FrameType is the type byte of a frame (PROTOCOL.md section 3).
type FrameType uint8

// Frame types. The numbers are on the wire: never renumber.
const (
	FrameHello     FrameType = 0x01 // version u16 || role u8 || features u64 || max_blob u32 || max_ttl u32 || listen_port u16 || stamp_bits u8
	FrameBlob      FrameType = 0x02 // envelope
	FrameSubmit    FrameType = 0x03 // req u32 || envelope
	FrameAck       FrameType = 0x04 // req u32 || id [32] || status u8
	FrameError     FrameType = 0x05 // req u32 || code u16 || retry_after_ms u32 || msg_len u16 || msg
	FrameFetch     FrameType = 0x06 // req u32 || after u64 || limit u16 || n u16 || n × tag
	FrameItem      FrameType = 0x07 // req u32 || seq u64 || envelope
	FrameEnd       FrameType = 0x08 // req u32 || next u64 || more u8
	FrameSubscribe FrameType = 0x09 // req u32 || after u64 || n u16 || n × tag
	FramePing      FrameType = 0x0A // nonce u64
	FramePong      FrameType = 0x0B // nonce u64
)

// Roles in HELLO.
const (
	RoleRelay  = 1
	RoleClient = 2
)

// Protocol sizes.
const (
	helloLen       = 22
	MaxFrameExtra  = 64   // max_frame = max_blob + MaxFrameExtra
	MaxTagsPerReq  = 256  // tags per FETCH or SUBSCRIBE
	MaxErrorMsgLen = 1024 // bytes of text in an ERROR
)

// Frame is one decoded frame: its type and its raw body. The typed views below parse Body.
type Frame struct {
	Type FrameType
	Body []byte
}

// AppendFrame appends the encoding of a frame with the given type and body parts.
func AppendFrame(dst []byte, t FrameType, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, byte(t))
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// Marshal encodes the frame.
func (f Frame) Marshal() []byte { return AppendFrame(nil, f.Type, f.Body) }

// ReadFrame reads one frame from r. maxFrame bounds length (type + body); a longer or zero
// length is ErrMalformed before anything is allocated. The body is freshly allocated, of
// exactly its length, and the caller may keep it; a body longer than 64 KiB is read into
// pooled chunks first, so an unfinished frame holds only what arrived of it (chunk.go).
func ReadFrame(r *bufio.Reader, maxFrame int) (Frame, error) {
	// Peek, not io.ReadFull into a local array: that would escape to the heap on every frame.
	hdr, err := r.Peek(4)
	if err != nil {
		if len(hdr) > 0 {
			return Frame{}, noEOF(err)
		}
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr)
	r.Discard(4)
	if n == 0 || uint64(n) > uint64(maxFrame) {
		return Frame{}, fmt.Errorf("%w: frame length %d outside 1..%d", ErrMalformed, n, maxFrame)
	}
	t, err := r.ReadByte()
	if err != nil {
		return Frame{}, noEOF(err)
	}
	body, err := readBody(r, int(n-1))
	if err != nil {
		return Frame{}, err
	}
	return Frame{Type: FrameType(t), Body: body}, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ParseFrame decodes exactly one frame from b (for fuzzing and tests).
func ParseFrame(b []byte, maxFrame int) (Frame, error) {
	if len(b) < 5 {
		return Frame{}, fmt.Errorf("%w: frame shorter than its header", ErrMalformed)
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || uint64(n) > uint64(maxFrame) {
		return Frame{}, fmt.Errorf("%w: frame length %d outside 1..%d", ErrMalformed, n, maxFrame)
	}
	if uint64(len(b)-4) != uint64(n) {
		return Frame{}, fmt.Errorf("%w: frame length %d does not match %d bytes", ErrMalformed, n, len(b)-4)
	}
	return Frame{Type: FrameType(b[4]), Body: b[5:]}, nil
}

// Hello is the first frame on every link.
type Hello struct {
	Version    uint16
	Role       uint8
	Features   uint64
	MaxBlob    uint32
	MaxTTL     uint32 // seconds
	ListenPort uint16
	StampBits  uint8
}

func (h Hello) Frame() Frame {
	b := make([]byte, 0, helloLen)
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = append(b, h.Role)
	b = binary.BigEndian.AppendUint64(b, h.Features)
	b = binary.BigEndian.AppendUint32(b, h.MaxBlob)
	b = binary.BigEndian.AppendUint32(b, h.MaxTTL)
	b = binary.BigEndian.AppendUint16(b, h.ListenPort)
	b = append(b, h.StampBits)
	return Frame{Type: FrameHello, Body: b}
}

func ParseHello(b []byte) (Hello, error) {
	if len(b) != helloLen {
		return Hello{}, fmt.Errorf("%w: hello of %d bytes, want %d", ErrMalformed, len(b), helloLen)
	}
	h := Hello{
		Version:    binary.BigEndian.Uint16(b),
		Role:       b[2],
		Features:   binary.BigEndian.Uint64(b[3:]),
		MaxBlob:    binary.BigEndian.Uint32(b[11:]),
		MaxTTL:     binary.BigEndian.Uint32(b[15:]),
		ListenPort: binary.BigEndian.Uint16(b[19:]),
		StampBits:  b[21],
	}
	if h.Role != RoleRelay && h.Role != RoleClient {
		return Hello{}, fmt.Errorf("%w: hello role %d", ErrMalformed, h.Role)
	}
	return h, nil
}

// Submit carries a client's envelope.
type Submit struct {
	Req      uint32
	Envelope []byte
}

func (s Submit) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(s.Envelope)), s.Req)
	return Frame{Type: FrameSubmit, Body: append(b, s.Envelope...)}
}

func ParseSubmit(b []byte) (Submit, error) {
	if len(b) < 4 {
		return Submit{}, fmt.Errorf("%w: short submit", ErrMalformed)
	}
	return Submit{Req: binary.BigEndian.Uint32(b), Envelope: b[4:]}, nil
}

// Ack statuses.
const (
	AckStored    = 0
	AckDuplicate = 1
)

// Ack confirms a durable store.
type Ack struct {
	Req    uint32
	ID     ID
	Status uint8
}

func (a Ack) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 37), a.Req)
	b = append(b, a.ID[:]...)
	return Frame{Type: FrameAck, Body: append(b, a.Status)}
}

func ParseAck(b []byte) (Ack, error) {
	if len(b) != 37 || b[36] > AckDuplicate {
		return Ack{}, fmt.Errorf("%w: ack", ErrMalformed)
	}
	a := Ack{Req: binary.BigEndian.Uint32(b), Status: b[36]}
	copy(a.ID[:], b[4:36])
	return a, nil
}

// ErrorFrame carries an Error for a request (Req 0: the whole link).
type ErrorFrame struct {
	Req uint32
	Err *Error
}

func (e ErrorFrame) Frame() Frame {
	msg := e.Err.Msg
	if len(msg) > MaxErrorMsgLen {
		msg = msg[:MaxErrorMsgLen]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	ms := e.Err.RetryAfter.Milliseconds()
	if ms > 0xFFFFFFFF {
		ms = 0xFFFFFFFF
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 12+len(msg)), e.Req)
	b = binary.BigEndian.AppendUint16(b, uint16(e.Err.Code))
	b = binary.BigEndian.AppendUint32(b, uint32(ms))
	b = binary.BigEndian.AppendUint16(b, uint16(len(msg)))
	return Frame{Type: FrameError, Body: append(b, msg...)}
}

func ParseErrorFrame(b []byte) (ErrorFrame, error) {
	if len(b) < 12 {
		return ErrorFrame{}, fmt.Errorf("%w: short error frame", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(b[10:]))
	if n > MaxErrorMsgLen || len(b) != 12+n || !utf8.Valid(b[12:]) {
		return ErrorFrame{}, fmt.Errorf("%w: error frame message", ErrMalformed)
	}
	return ErrorFrame{Req: binary.BigEndian.Uint32(b), Err: &Error{
		Code:       Code(binary.BigEndian.Uint16(b[4:])),
		RetryAfter: time.Duration(binary.BigEndian.Uint32(b[6:])) * time.Millisecond,
		Msg:        string(b[12:]),
	}}, nil
}

// Fetch asks for stored blobs after a cursor; no tags means all blobs.
type Fetch struct {
	Req   uint32
	After uint64
	Limit uint16
	Tags  []Tag
}

func (f Fetch) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 16+TagSize*len(f.Tags)), f.Req)
	b = binary.BigEndian.AppendUint64(b, f.After)
	b = binary.BigEndian.AppendUint16(b, f.Limit)
	return Frame{Type: FrameFetch, Body: appendTags(b, f.Tags)}
}

func ParseFetch(b []byte) (Fetch, error) {
	if len(b) < 16 {
		return Fetch{}, fmt.Errorf("%w: short fetch", ErrMalformed)
	}
	tags, err := parseTags(b[14:])
	if err != nil {
		return Fetch{}, err
	}
	return Fetch{Req: binary.BigEndian.Uint32(b), After: binary.BigEndian.Uint64(b[4:]),
		Limit: binary.BigEndian.Uint16(b[12:]), Tags: tags}, nil
}

// Subscribe is a Fetch that stays open for new blobs.
type Subscribe struct {
	Req   uint32
	After uint64
	Tags  []Tag
}

func (s Subscribe) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 14+TagSize*len(s.Tags)), s.Req)
	b = binary.BigEndian.AppendUint64(b, s.After)
	return Frame{Type: FrameSubscribe, Body: appendTags(b, s.Tags)}
}

func ParseSubscribe(b []byte) (Subscribe, error) {
	if len(b) < 14 {
		return Subscribe{}, fmt.Errorf("%w: short subscribe", ErrMalformed)
	}
	tags, err := parseTags(b[12:])
	if err != nil {
		return Subscribe{}, err
	}
	return Subscribe{Req: binary.BigEndian.Uint32(b), After: binary.BigEndian.Uint64(b[4:]), Tags: tags}, nil
}

func appendTags(b []byte, tags []Tag) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(tags)))
	for _, t := range tags {
		b = append(b, t[:]...)
	}
	return b
}

func parseTags(b []byte) ([]Tag, error) {
	n := int(binary.BigEndian.Uint16(b))
	if n > MaxTagsPerReq || len(b) != 2+n*TagSize {
		return nil, fmt.Errorf("%w: tag list", ErrMalformed)
	}
	if n == 0 {
		return nil, nil
	}
	tags := make([]Tag, n)
	for i := range tags {
		copy(tags[i][:], b[2+i*TagSize:])
	}
	return tags, nil
}

// Item is one stored blob answering a Fetch or Subscribe.
type Item struct {
	Req      uint32
	Seq      uint64
	Envelope []byte
}

func (it Item) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 12+len(it.Envelope)), it.Req)
	b = binary.BigEndian.AppendUint64(b, it.Seq)
	return Frame{Type: FrameItem, Body: append(b, it.Envelope...)}
}

func ParseItem(b []byte) (Item, error) {
	if len(b) < 12 {
		return Item{}, fmt.Errorf("%w: short item", ErrMalformed)
	}
	return Item{Req: binary.BigEndian.Uint32(b), Seq: binary.BigEndian.Uint64(b[4:]), Envelope: b[12:]}, nil
}

// End closes a page of Items.
type End struct {
	Req  uint32
	Next uint64
	More bool
}

func (e End) Frame() Frame {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 13), e.Req)
	b = binary.BigEndian.AppendUint64(b, e.Next)
	m := byte(0)
	if e.More {
		m = 1
	}
	return Frame{Type: FrameEnd, Body: append(b, m)}
}

func ParseEnd(b []byte) (End, error) {
	if len(b) != 13 || b[12] > 1 {
		return End{}, fmt.Errorf("%w: end", ErrMalformed)
	}
	return End{Req: binary.BigEndian.Uint32(b), Next: binary.BigEndian.Uint64(b[4:]), More: b[12] == 1}, nil
}

// PingFrame and PongFrame carry a nonce.
func PingFrame(nonce uint64) Frame {
	return Frame{Type: FramePing, Body: binary.BigEndian.AppendUint64(nil, nonce)}
}

func PongFrame(nonce uint64) Frame {
	return Frame{Type: FramePong, Body: binary.BigEndian.AppendUint64(nil, nonce)}
}

func ParseNonce(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: ping nonce", ErrMalformed)
	}
	return binary.BigEndian.Uint64(b), nil
}
