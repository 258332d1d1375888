package client

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/echo/seal"
)

// DefaultTTL is how long relays keep a message by default (at most the relay's limit).
const DefaultTTL = 7 * 24 * time.Hour

// MaxFile bounds a file Send takes: relays keep at most 64 MiB per mailbox by default.
const MaxFile = 48 << 20

// SendOptions tune a send.
type SendOptions struct {
	Relay    string        // put to this relay instead of the friend's
	TTL      time.Duration // 0: DefaultTTL
	Untagged bool          // the all-zero tag: found only by a receiver that reads everything
}

// SendResult says what became of a send.
type SendResult struct {
	To     string
	Chunks int   // envelopes of this send (1 for a text)
	Queued bool  // not (all) sent: kept in the outbox, retried by the next Send or Receive
	Err    error // why it is queued
	Events []Event
}

// SendText seals text to the friend name and puts it on their relay, through the outbox.
func (c *Client) SendText(ctx context.Context, name, text string, o SendOptions) (*SendResult, error) {
	return c.send(ctx, name, "", []byte(text), seal.TypeText, o)
}

// SendControl sends a control payload of type typ (1-255) to the friend name over the pairwise
// session (sealed to their long-term keys and signed while the session is starting); it
// arrives as a ControlEvent and is not kept in either history. It is for other parts of the
// client (groups distribute their keys with it).
func (c *Client) SendControl(ctx context.Context, name string, typ uint8, payload []byte) (*SendResult, error) {
	if typ == controlSessionNotice {
		return nil, ErrControlType
	}
	return c.send(ctx, name, "", append([]byte{typ}, payload...), TypeControl, SendOptions{})
}

// SendFile sends content as the file fileName (a base name), in as many chunks as the
// relay's largest blob asks.
func (c *Client) SendFile(ctx context.Context, name, fileName string, content []byte, o SendOptions) (*SendResult, error) {
	if !seal.SafeName(fileName) {
		return nil, fmt.Errorf("%w: file name %q cannot be sent", ErrBadName, fileName)
	}
	if len(content) > MaxFile {
		return nil, fmt.Errorf("%w: %d bytes; a file is at most %d", ErrTooLarge, len(content), MaxFile)
	}
	return c.send(ctx, name, fileName, content, seal.TypeFile, o)
}

func defaultHello() echo.Hello {
	return echo.Hello{MaxBlob: echo.DefaultMaxBlob, MaxTTL: uint32(echo.DefaultMaxTTL / time.Second)}
}

func (c *Client) send(ctx context.Context, name, fileName string, content []byte, typ seal.ContentType, o SendOptions) (*SendResult, error) {
	isFile := typ == seal.TypeFile
	if !isFile && len(content) == 0 {
		return nil, ErrEmpty
	}
	ttl := o.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := c.friend(name)
	if err != nil {
		return nil, err
	}
	s := c.session(ctx)
	defer s.close()
	// The relay's limits size the chunks; when it cannot be reached, the defaults do, and a
	// relay with a smaller limit refuses the envelopes later (reported by the outbox).
	hello := defaultHello()
	cn, addr, dialErr := s.theirConn(f, o.Relay)
	if dialErr == nil {
		hello = cn.Hello()
	}
	now := c.now()
	sl, err := c.sealerFor(f, now)
	if err != nil {
		return nil, err
	}
	maxContent := sl.maxContent(int(hello.MaxBlob) - envelopeReserve)
	if maxContent <= seal.FileChunkOverhead(seal.MaxNameLen) {
		return nil, fmt.Errorf("%w (%d bytes)", ErrRelaySmall, hello.MaxBlob)
	}
	if !isFile && len(content) > maxContent {
		return nil, fmt.Errorf("%w: the text is %d bytes; one message holds at most %d", ErrTooLarge, len(content), maxContent)
	}
	var tag [32]byte
	if !o.Untagged {
		tag = sl.tag(now)
	}
	var group [16]byte
	if _, err := rand.Read(group[:]); err != nil {
		return nil, err
	}
	var entries []*OutboxEntry
	add := func(typ seal.ContentType, body []byte, what string) error {
		payload, err := sl.seal(typ, body, now)
		if err != nil {
			return err
		}
		env, err := makeEnvelope(hello, now, tag, ttl, payload)
		if err != nil {
			return err
		}
		entries = append(entries, &OutboxEntry{Group: group, To: f.Fingerprint(), Relay: addr, Created: now, What: what, Envelope: env})
		return nil
	}
	msg := &Message{Friend: f.Fingerprint(), Out: true, Time: now, Kind: "text", Body: content}
	if !isFile {
		what := "text"
		if typ == TypeControl {
			what = "control"
		}
		if err := add(typ, content, what); err != nil {
			return nil, err
		}
	} else {
		per := maxContent - seal.FileChunkOverhead(len(fileName))
		count := max(1, (len(content)+per-1)/per)
		ch := seal.FileChunk{Count: uint32(count), Size: uint64(len(content)), Name: fileName}
		if _, err := rand.Read(ch.FileID[:]); err != nil {
			return nil, err
		}
		for i := 0; i < count; i++ {
			ch.Index = uint32(i)
			ch.Data = content[i*per : min(len(content), (i+1)*per)]
			if err := add(seal.TypeFile, ch.Marshal(), "file "+fileName); err != nil {
				return nil, fmt.Errorf("chunk %d of %d: %w", i+1, count, err)
			}
		}
		msg.Kind, msg.Body = "file", []byte(fileName)
	}
	if err := sl.save(); err != nil {
		return nil, err
	}
	if err := c.st.AddOutbox(entries); err != nil {
		return nil, fmt.Errorf("failed to keep the message in the outbox: %w", err)
	}
	if typ != TypeControl {
		if err := c.st.AddMessage(msg); err != nil {
			return nil, err
		}
	}
	res := &SendResult{To: f.Name, Chunks: len(entries)}
	left, lastErr, err := s.flushOutbox(group, func(e Event) { res.Events = append(res.Events, e) })
	if err != nil {
		return nil, err
	}
	if left > 0 {
		res.Queued, res.Err = true, cmpErr(lastErr, dialErr)
	}
	return res, nil
}
