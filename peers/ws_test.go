package peers

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
)

// readClientHello over a pipe: the bytes of b, then silence.
func helloFrom(b []byte) ([]byte, error) {
	a, c := net.Pipe()
	defer a.Close()
	go func() { c.Write(b); c.Close() }()
	return readClientHello(a, time.Second)
}

// A client's HELLO is taken byte-exact (nothing after it is read); a relay's HELLO, another
// first frame or a wrong length is refused.
func TestReadClientHello(t *testing.T) {
	f := echo.Hello{Version: echo.Version, Role: echo.RoleClient}.Frame()
	hello := echo.AppendFrame(nil, f.Type, f.Body)
	got, err := helloFrom(append(bytes.Clone(hello), 0xAA, 0xBB))
	if err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("client HELLO: % x, %v", got, err)
	}
	r := echo.Hello{Version: echo.Version, Role: echo.RoleRelay}.Frame()
	if _, err := helloFrom(echo.AppendFrame(nil, r.Type, r.Body)); !errors.Is(err, ErrNotClient) {
		t.Fatalf("relay HELLO: %v", err)
	}
	p := echo.PongFrame(1)
	if _, err := helloFrom(echo.AppendFrame(nil, p.Type, p.Body)); !errors.Is(err, ErrNotClient) {
		t.Fatalf("PONG first: %v", err)
	}
	long := echo.AppendFrame(nil, f.Type, append(bytes.Clone(f.Body), 0))
	if _, err := helloFrom(long); !errors.Is(err, echo.ErrMalformed) {
		t.Fatalf("HELLO of 23 bytes: %v", err)
	}
}

// Whatever the first bytes, readClientHello returns either an error or exactly the bytes of a
// valid client HELLO, which it read and nothing more.
func FuzzReadClientHello(f *testing.F) {
	h := echo.Hello{Version: echo.Version, Role: echo.RoleClient}.Frame()
	f.Add(echo.AppendFrame(nil, h.Type, h.Body))
	r := echo.Hello{Version: echo.Version, Role: echo.RoleRelay}.Frame()
	f.Add(echo.AppendFrame(nil, r.Type, r.Body))
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := helloFrom(b)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(b, got) || len(got) != 27 {
			t.Fatalf("took % x from % x", got, b)
		}
		hl, perr := echo.ParseHello(got[5:])
		if perr != nil || hl.Role != echo.RoleClient {
			t.Fatalf("took an invalid HELLO % x: %v", got, perr)
		}
	})
}
