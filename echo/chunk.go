package echo

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"sync/atomic"
)

// Frame bodies in pooled chunks (issue #15). A frame's header announces its length, and a
// relay charges that length to its memory budget before it reads the body; but if the body
// were one allocation of the announced length made when the header arrives, a client that
// announces the largest frame and sends one byte would make the relay hold the whole of it
// (a review measured 255 such links at 564 MB RSS). So a body longer than one chunk is read
// into fixed-size chunks from a pool, each taken only once a byte for it has arrived, and the
// last, partial piece into an allocation of its exact size: an unfinished frame holds no more
// than the bytes that arrived, rounded up to a chunk, and never more than its length. When the
// body is complete it is copied into one allocation of exactly its length (bytes.Join, which
// does not zero what it overwrites, so the copy costs about what zeroing the one allocation
// used to) and its chunks go back to the pool; the caller gets an ordinary []byte it may keep
// for as long as it likes (flood queues, the store's writer), with no reference counting. On
// any error every chunk goes back to the pool.
//
// The copy is the one moment a body exists twice: its chunks and its final allocation. Copies
// take assembleMu, so across the process at most one body is being copied at a time and what
// the copies add beyond the bytes announced is at most one largest frame, not one per link
// (a copy of 2 MiB is a fraction of a millisecond, far below the time its bytes take to
// arrive over any network). Bodies of at most one chunk keep the direct path: one allocation,
// read in place.
//
// The chunk size is a trade: smaller chunks hold an unfinished frame closer to what arrived,
// larger ones take fewer trips to the pool and to the socket (a read into a chunk bypasses the
// link's bufio buffer, so it is one read system call per chunk at most). At 64 KiB, 255 links
// that each sent one byte of a 2 MiB frame hold 16 MiB of chunks, against 510 MiB before.
const chunkSize = 64 << 10

type chunk = [chunkSize]byte

var (
	chunkPool = sync.Pool{New: func() any { return new(chunk) }}
	// chunksOut counts chunks taken from the pool and not yet given back (for tests).
	chunksOut atomic.Int64
	// assembleMu serialises the copy of complete chunked bodies (see above).
	assembleMu sync.Mutex
)

func getChunk() *chunk {
	chunksOut.Add(1)
	return chunkPool.Get().(*chunk)
}

func putChunk(c *chunk) {
	chunksOut.Add(-1)
	chunkPool.Put(c)
}

// readBody reads a body of exactly n bytes from r.
func readBody(r *bufio.Reader, n int) ([]byte, error) {
	if n <= chunkSize {
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, noEOF(err)
		}
		return body, nil
	}
	return readChunked(r, n)
}

// readChunked reads a body of n > chunkSize bytes into pooled chunks, then assembles it.
func readChunked(r *bufio.Reader, n int) ([]byte, error) {
	var local [32]*chunk // a 2 MiB body needs 32 full chunks: no allocation for the lists
	full := local[:0]
	var tail []byte // the last n%chunkSize bytes, in an allocation of their own size
	defer func() {
		for _, c := range full {
			putChunk(c)
		}
	}()
	for got := 0; got < n; {
		// Wait for a byte of the next piece before taking memory for it.
		if _, err := r.Peek(1); err != nil {
			return nil, noEOF(err)
		}
		var dst []byte
		if want := n - got; want >= chunkSize {
			c := getChunk()
			full = append(full, c)
			dst = c[:]
		} else {
			tail = make([]byte, want)
			dst = tail
		}
		k, err := io.ReadFull(r, dst)
		got += k
		if err != nil {
			return nil, noEOF(err)
		}
	}
	var list [33][]byte
	pieces := list[:0]
	for _, c := range full {
		pieces = append(pieces, c[:])
	}
	pieces = append(pieces, tail)
	assembleMu.Lock()
	defer assembleMu.Unlock()
	return bytes.Join(pieces, nil), nil
}
