package peers

import (
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/internal/testutil"
	"github.com/echorelay/echorelay/store"
)

// A frame's read deadline grows with the bytes that arrive, never with the length its header
// announces (issue #15 item 4): each Read moves it to start + grace + got/MinFrameRate.
func TestFrameProgressDeadline(t *testing.T) {
	var deadlines []time.Time
	src := &chunks{parts: [][]byte{make([]byte, 100), make([]byte, MinFrameRate), make([]byte, 3*MinFrameRate)}}
	p := &frameProgress{r: src, grace: 5 * time.Second, setDeadline: func(read bool, d time.Time) error {
		if !read {
			t.Fatal("frameProgress set a write deadline")
		}
		deadlines = append(deadlines, d)
		return nil
	}}
	buf := make([]byte, 8*MinFrameRate)
	p.Read(buf) // before a frame began: no deadline moves
	if len(deadlines) != 0 {
		t.Fatalf("deadline moved outside a frame: %v", deadlines)
	}
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p.start, p.got, p.on = start, 0, true
	p.Read(buf)
	p.Read(buf)
	want := []time.Time{
		start.Add(5*time.Second + time.Second*time.Duration(MinFrameRate)/MinFrameRate),   // 1 rate's worth: +1 s
		start.Add(5*time.Second + time.Second*time.Duration(4*MinFrameRate)/MinFrameRate), // 4 rates' worth: +4 s
	}
	if len(deadlines) != 2 || !deadlines[0].Equal(want[0]) || !deadlines[1].Equal(want[1]) {
		t.Fatalf("deadlines %v, want %v", deadlines, want)
	}
}

type chunks struct{ parts [][]byte }

func (c *chunks) Read(b []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.parts[0])
	c.parts = c.parts[1:]
	return n, nil
}

// A SUBMIT announced at 60 MiB and trickled below MinFrameRate is closed as frame_timeout soon
// after its grace; before, its deadline was 30 s + 1 s per 64 KiB announced (over 16 minutes).
// A frame that arrives above MinFrameRate is served even though it takes longer than the grace.
func TestSlowFrameClosed(t *testing.T) {
	t.Parallel()
	d := testutil.Timeout(time.Second)
	tn := startTestNode(t, Config{FrameTimeout: d}, store.Options{}, echo.Limits{})

	slow := rawDial(t, tn, SchemeTLS, nil)
	slow.hello(echo.RoleClient)
	var hdr [9]byte
	binary.BigEndian.PutUint32(hdr[:], 60<<20)
	hdr[4] = byte(echo.FrameSubmit)
	binary.BigEndian.PutUint32(hdr[5:], 1)
	slow.write(hdr[:])
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // 2 KB a second, a tenth of MinFrameRate, for at most a scaled minute
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < int(testutil.Timeout(time.Minute)/(50*time.Millisecond)); i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			slow.s.setDeadline(false, time.Now().Add(testutil.Timeout(5*time.Second)))
			if _, err := slow.s.rw.Write(make([]byte, 100)); err != nil {
				return // closed by the relay
			}
		}
	}()
	tn.waitClose(t, "frame_timeout", 1)
	close(stop)
	<-done

	// 256 KiB in 16 pieces, 50 ms apart: each piece earns a second at MinFrameRate, far more
	// than the pause before the next, so the frame is never behind and is acknowledged. (The
	// pause is not scaled: it is the sender's pace, and a scaled one would outgrow the
	// credit a piece earns.)
	c := rawDial(t, tn, SchemeTLS, nil)
	c.hello(echo.RoleClient)
	env := mkEnv(t, time.Now().Add(time.Hour), 256<<10)
	frame := echo.Submit{Req: 7, Envelope: env}.Frame().Marshal()
	for off := 0; off < len(frame); off += 16 << 10 {
		c.write(frame[off:min(off+16<<10, len(frame))])
		time.Sleep(50 * time.Millisecond) // the sender's pace, the behaviour under test
	}
	c.s.setDeadline(true, time.Now().Add(testutil.Timeout(10*time.Second)))
	for {
		f, err := echo.ReadFrame(c.r, 1<<20)
		if err != nil {
			t.Fatalf("a frame sent above MinFrameRate was not answered: %v (closes %v)", err, tn.Abuse().ClosesByReason)
		}
		if f.Type == echo.FrameAck {
			break
		}
		if f.Type == echo.FrameError {
			e, _ := echo.ParseErrorFrame(f.Body)
			t.Fatalf("a frame sent above MinFrameRate was refused: %v", e.Err)
		}
	}
}
