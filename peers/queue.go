package peers

import (
	"sync"
	"sync/atomic"
)

// floodQueue holds the BLOB frames waiting for one neighbour's writer. A buffered channel of
// QueueBlobs frames would cost 256 KiB per link from the moment it opens, idle or not (20
// idle neighbour links were half of an idle relay's heap); this queue holds memory only while
// frames wait and gives it back once it has drained.
type floodQueue struct {
	mu    sync.Mutex
	items []outFrame // items[head:] wait, oldest first
	head  int
	n     atomic.Int32  // len(items) - head, for readers without the lock (pace.go, the writer)
	ready chan struct{} // holds a token while frames may wait; capacity 1
}

// floodQueueKeep is the capacity a drained queue keeps; a larger backing array is dropped.
const floodQueueKeep = 64

func newFloodQueue() floodQueue { return floodQueue{ready: make(chan struct{}, 1)} }

// push appends f unless max frames wait already.
func (q *floodQueue) push(f outFrame, max int) bool {
	q.mu.Lock()
	if len(q.items)-q.head >= max {
		q.mu.Unlock()
		return false
	}
	if len(q.items) == cap(q.items) && q.head > 0 {
		// Slide the waiting frames to the front instead of growing past what waits.
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items, q.head = q.items[:k], 0
	}
	q.items = append(q.items, f)
	q.n.Add(1)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// pop takes the oldest frame.
func (q *floodQueue) pop() (outFrame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return outFrame{}, false
	}
	f := q.items[q.head]
	q.items[q.head] = outFrame{}
	q.head++
	q.n.Add(-1)
	if q.head == len(q.items) {
		if cap(q.items) > floodQueueKeep {
			q.items = nil
		} else {
			q.items = q.items[:0]
		}
		q.head = 0
	}
	return f, true
}

// len is the number of waiting frames.
func (q *floodQueue) len() int { return int(q.n.Load()) }
