package clientconn

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
)

// A relay that never answers the HELLO: Open gives up after its handshake timeout and closes
// the stream (the other end sees EOF).
func TestOpenSilentRelay(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go func() { // read the client's HELLO, then say nothing
		r := bufio.NewReader(b)
		echo.ReadFrame(r, 1<<10)
		for {
			if _, err := r.ReadByte(); err != nil {
				return
			}
		}
	}()
	_, err := Open(context.Background(), a, Options{Close: a.Close, HandshakeTimeout: 50 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open against a silent relay: %v", err)
	}
	if _, werr := a.Write([]byte{0}); werr == nil {
		t.Fatal("the stream is still open after a failed handshake")
	}
}

// A relay whose first frame is not HELLO is malformed; one that answers ERROR gives its code.
func TestOpenBadFirstFrame(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame echo.Frame
		want  error
	}{
		{"pong first", echo.PongFrame(7), echo.ErrMalformed},
		{"error first", echo.ErrorFrame{Err: &echo.Error{Code: echo.CodeUnsupportedVersion}}.Frame(), echo.ErrUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			go func() {
				echo.ReadFrame(bufio.NewReader(b), 1<<10)
				b.Write(echo.AppendFrame(nil, tc.frame.Type, tc.frame.Body))
			}()
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout(10*time.Second))
			defer cancel()
			_, err := Open(ctx, a, Options{Close: a.Close, Name: "relay.example"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}
