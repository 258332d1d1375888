package peers

import (
	"bytes"
	"testing"
)

// The flood queue keeps order, refuses beyond its bound, and gives its memory back once
// drained.
func TestFloodQueue(t *testing.T) {
	q := newFloodQueue()
	if _, ok := q.pop(); ok {
		t.Fatal("pop from an empty queue succeeded")
	}
	frame := func(i int) outFrame { return outFrame{body: []byte{byte(i), byte(i >> 8)}} }
	next, popped := 0, 0
	check := func() {
		t.Helper()
		f, ok := q.pop()
		if !ok || !bytes.Equal(f.body, frame(popped).body) {
			t.Fatalf("pop %d: got %v %v, want frame %d", popped, f.body, ok, popped)
		}
		popped++
	}
	// Interleaved pushes and pops, the queue never empty: order holds and the backing array
	// stays bounded by what waits (pushes slide the waiting frames to the front).
	for range 5000 {
		for range 3 {
			if !q.push(frame(next), 100) {
				t.Fatalf("push %d refused with %d waiting", next, q.len())
			}
			next++
		}
		check()
		check()
		if cap(q.items) > 4*100 {
			t.Fatalf("backing array grew to %d for at most 100 waiting frames", cap(q.items))
		}
		for q.len() >= 90 {
			check()
		}
	}
	// The bound: max frames wait, the next is refused.
	for q.len() < 100 {
		if !q.push(frame(next), 100) {
			t.Fatalf("push refused at %d waiting", q.len())
		}
		next++
	}
	if q.push(frame(next), 100) {
		t.Fatal("push beyond the bound accepted")
	}
	if len(q.ready) != 1 {
		t.Fatal("no ready token while frames wait")
	}
	for q.len() > 0 {
		check()
	}
	if popped != next {
		t.Fatalf("popped %d of %d frames", popped, next)
	}
	if q.items != nil || q.head != 0 {
		t.Fatalf("drained queue keeps a backing array of %d", cap(q.items))
	}
}
