package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// The blob log: envelopes are appended to segment files and written to disk
// exactly once. The SQLite file holds only the index (seq, id, tag, expiry,
// size and the record's place in the log), so the B-tree pages that a put
// dirties are small, and they are committed in large batches (see writer.go)
// rather than once per acknowledged put.
//
// A segment is a file <dir>/<16 hex digits>.seg starting with segMagic,
// followed by records:
//
//	length  uint32  bytes that follow this field (recHeader-4 + envelope)
//	crc     uint32  CRC-32C (Castagnoli) of everything after this field
//	seq     uint64
//	expiry  int64
//	id      [32]byte
//	tag     [32]byte
//	envelope
//
// all big-endian. A record is acknowledged only after the segment was
// fsynced, so a record that does not parse or whose CRC is wrong can only be
// the torn tail of a write that was never acknowledged; recovery truncates
// it.

const (
	segMagic  = "echorelay-log-1\n"
	recHeader = 4 + 4 + 8 + 8 + 32 + 32 // bytes before the envelope
	// maxRecord bounds a record's length field when reading, so a damaged
	// length cannot make recovery allocate gigabytes.
	maxRecord = 64 << 20
	// DefaultSegmentBytes is the size at which the log moves on to a new
	// segment. A segment's file is deleted once every blob in it has expired
	// or been evicted, so smaller segments return space sooner.
	DefaultSegmentBytes = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errLogFull is what an append reports when Options.MaxLogBytes would be
// exceeded: the same outcome as a full disk (ENOSPC), on purpose.
var errLogFull = fmt.Errorf("blob log: %w", syscall.ENOSPC)

// errRecordGone means an index row points at a segment that has been
// deleted meanwhile (its blobs expired or were evicted): the blob is gone.
var errRecordGone = errors.New("blob log: record gone")

// vlog is the blob log. Appends, rotation and removal happen on the
// committer goroutine only; reads come from any goroutine.
type vlog struct {
	dir     string
	maxSize int64 // Options.MaxLogBytes; 0 = none

	// Committer-owned.
	active *os.File
	seg    uint64       // active segment number
	end    int64        // offset of the next record in the active segment
	size   atomic.Int64 // bytes of all segments on disk; read by Stats
	segMax int64

	// deferSync (Options.SyncEvery > 0) makes write leave the fsync to
	// sync; unsynced says the active segment has appends not yet fsynced.
	deferSync bool
	unsynced  bool
	syncs     atomic.Uint64 // fsyncs of appended records; read by Stats
	fsync     func(*os.File) error

	mu      sync.RWMutex // guards readers and gone
	readers map[uint64]*os.File
	gone    map[uint64]bool
}

// logPos is a place in the log: a segment and an offset in it.
type logPos struct {
	seg uint64
	off int64
}

func segName(dir string, seg uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x.seg", seg))
}

// listSegments returns the segment numbers found in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || len(name) != 16 {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil || n == 0 {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

// newVlog is a log on dir that can read records (check.go uses it so);
// openLog makes one that is also appended to.
func newVlog(dir string) *vlog {
	return &vlog{dir: dir, readers: map[uint64]*os.File{}, gone: map[uint64]bool{}, fsync: (*os.File).Sync}
}

// openLog opens (creating if need be) the log in dir and adds up its size.
// It does not recover: call scan first, which truncates a torn tail, then
// start.
func openLog(dir string, segMax, maxSize int64) (*vlog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create blob log directory: %w", err)
	}
	l := newVlog(dir)
	l.segMax, l.maxSize = segMax, maxSize
	segs, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to list blob log: %w", err)
	}
	for _, seg := range segs {
		st, err := os.Stat(segName(dir, seg))
		if err != nil {
			return nil, fmt.Errorf("failed to read blob log: %w", err)
		}
		l.size.Add(st.Size())
	}
	return l, nil
}

// scan reads every record from pos on, in order, calling fn for each. A
// record that does not parse ends its segment: the file is truncated there
// (a torn, unacknowledged write). It returns the end of the log.
func (l *vlog) scan(from logPos, fn func(r record, at logPos) error) (logPos, error) {
	segs, err := listSegments(l.dir)
	if err != nil {
		return from, fmt.Errorf("failed to list blob log: %w", err)
	}
	end := from
	for _, seg := range segs {
		if seg < from.seg {
			continue
		}
		path := segName(l.dir, seg)
		st, err := os.Stat(path)
		if err != nil {
			return end, fmt.Errorf("failed to read blob log: %w", err)
		}
		start := int64(len(segMagic))
		if seg == from.seg && from.off > start {
			start = from.off
		}
		good, err := scanSegment(path, seg, start, fn)
		if err != nil {
			return end, err
		}
		if good < st.Size() {
			if err := os.Truncate(path, good); err != nil {
				return end, fmt.Errorf("failed to truncate torn blob log tail: %w", err)
			}
			l.size.Add(good - st.Size())
		}
		end = logPos{seg, good}
	}
	return end, nil
}

// record is one parsed log record; env aliases the read buffer.
type record struct {
	seq    uint64
	expiry int64
	id     [32]byte
	tag    [32]byte
	env    []byte
}

// scanSegment parses the records of one segment from offset start, calls fn
// for each valid one, and returns the offset just past the last valid
// record. A missing or wrong magic makes the whole file invalid (offset 0
// is returned only if the magic itself is torn).
func scanSegment(path string, seg uint64, start int64, fn func(r record, at logPos) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("failed to read blob log: %w", err)
	}
	defer f.Close()
	magic := make([]byte, len(segMagic))
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != segMagic {
		if err == nil {
			return 0, fmt.Errorf("blob log %s: not a segment file", path)
		}
		return 0, nil // torn at creation: nothing in it was acknowledged
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return 0, fmt.Errorf("failed to read blob log: %w", err)
	}
	r := newRecordReader(bufio.NewReaderSize(f, 64<<10))
	off := start
	for {
		rec, n, ok := r.next()
		if !ok {
			return off, r.err
		}
		if fn != nil {
			if err := fn(rec, logPos{seg, off}); err != nil {
				return off, err
			}
		}
		off += n
	}
}

// recordReader parses records sequentially from a reader.
type recordReader struct {
	r   io.Reader
	buf []byte
	err error // a read error other than a clean or torn end
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{r: r, buf: make([]byte, 0, 64<<10)}
}

func (rr *recordReader) next() (record, int64, bool) {
	var hdr [4]byte
	if _, err := io.ReadFull(rr.r, hdr[:]); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			rr.err = fmt.Errorf("failed to read blob log: %w", err)
		}
		return record{}, 0, false
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < recHeader-4 || n > maxRecord {
		return record{}, 0, false
	}
	if cap(rr.buf) < int(n) {
		rr.buf = make([]byte, n)
	}
	b := rr.buf[:n]
	if _, err := io.ReadFull(rr.r, b); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			rr.err = fmt.Errorf("failed to read blob log: %w", err)
		}
		return record{}, 0, false
	}
	rec, ok := parseRecord(b)
	return rec, int64(n) + 4, ok
}

// parseRecord checks the CRC of b (a record without its length field) and
// splits it.
func parseRecord(b []byte) (record, bool) {
	if len(b) < recHeader-4 || crc32.Checksum(b[4:], castagnoli) != binary.BigEndian.Uint32(b) {
		return record{}, false
	}
	var r record
	r.seq = binary.BigEndian.Uint64(b[4:])
	r.expiry = int64(binary.BigEndian.Uint64(b[12:]))
	copy(r.id[:], b[20:52])
	copy(r.tag[:], b[52:84])
	r.env = b[84:]
	return r, true
}

// appendRecord encodes one record onto buf.
func appendRecord(buf []byte, seq uint64, b *Blob) []byte {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(recHeader-4+len(b.Envelope)))
	buf = append(buf, 0, 0, 0, 0) // crc, below
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(b.Expiry))
	buf = append(buf, b.ID[:]...)
	buf = append(buf, b.Tag[:]...)
	buf = append(buf, b.Envelope...)
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+8:], castagnoli))
	return buf
}

// start opens the last segment for appending at end (from replay), or
// creates the first one.
func (l *vlog) start(end logPos) error {
	if end.seg == 0 {
		return l.create(1)
	}
	f, err := os.OpenFile(segName(l.dir, end.seg), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("failed to open blob log: %w", err)
	}
	l.active, l.seg, l.end = f, end.seg, end.off
	if l.end < int64(len(segMagic)) {
		// The magic itself was torn: write it again.
		if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
			return fmt.Errorf("failed to write blob log: %w", err)
		}
		l.size.Add(int64(len(segMagic)) - l.end)
		l.end = int64(len(segMagic))
	}
	return nil
}

// create starts segment seg and makes its directory entry durable.
func (l *vlog) create(seg uint64) error {
	f, err := os.OpenFile(segName(l.dir, seg), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("failed to create blob log segment: %w", err)
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("failed to write blob log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("failed to sync blob log: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	if l.active != nil {
		// The old segment's deferred appends must reach the disk before
		// its file is closed: a later sync covers only the new one.
		if err := l.sync(); err != nil {
			f.Close()
			os.Remove(f.Name())
			return err
		}
		l.active.Close()
	}
	l.active, l.seg, l.end = f, seg, int64(len(segMagic))
	l.size.Add(int64(len(segMagic)))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("failed to sync blob log directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync blob log directory: %w", err)
	}
	return nil
}

// rotateIfFull moves to a new segment once the active one has reached its
// size. Called between batches, so a batch never spans two segments.
func (l *vlog) rotateIfFull() error {
	if l.end < l.segMax {
		return nil
	}
	return l.create(l.seg + 1)
}

// write appends buf at the end of the active segment and fsyncs it (with
// deferSync it leaves the fsync to sync). On failure the segment is cut
// back to where it was, so a failed batch leaves no half record behind, and
// the error says whether the disk was full.
func (l *vlog) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if l.maxSize > 0 && l.size.Load()+int64(len(buf)) > l.maxSize {
		return errLogFull
	}
	n, err := l.active.WriteAt(buf, l.end)
	if err == nil && !l.deferSync {
		if err = l.fsync(l.active); err == nil {
			l.syncs.Add(1)
		}
	}
	if err != nil {
		if n > 0 {
			l.active.Truncate(l.end)
		}
		return fmt.Errorf("failed to write blob log: %w", err)
	}
	l.end += int64(len(buf))
	l.size.Add(int64(len(buf)))
	l.unsynced = l.unsynced || l.deferSync
	return nil
}

// sync fsyncs the active segment if it has appends that write left
// unsynced. After a failed fsync the kernel may have dropped those pages
// (Linux reports the error once and marks them clean), so the appends stay
// counted as unsynced and the next sync tries again; the caller says what
// may be lost.
func (l *vlog) sync() error {
	if !l.unsynced {
		return nil
	}
	if err := l.fsync(l.active); err != nil {
		return fmt.Errorf("failed to sync blob log: %w", err)
	}
	l.unsynced = false
	l.syncs.Add(1)
	return nil
}

// pos is where the next record goes.
func (l *vlog) pos() logPos { return logPos{l.seg, l.end} }

// read returns the envelope of the record at (seg, off), checking that it
// is the record of id. Safe for concurrent use.
func (l *vlog) read(seg uint64, off int64, size int, id [32]byte) ([]byte, error) {
	f, err := l.reader(seg)
	if err != nil {
		return nil, err
	}
	b := make([]byte, recHeader+size)
	if _, err := f.ReadAt(b, off); err != nil {
		l.mu.RLock()
		gone := l.gone[seg]
		l.mu.RUnlock()
		if gone || errors.Is(err, os.ErrClosed) {
			return nil, errRecordGone
		}
		return nil, fmt.Errorf("failed to read blob log: %w", err)
	}
	if binary.BigEndian.Uint32(b) != uint32(recHeader-4+size) {
		return nil, fmt.Errorf("blob log %s damaged at offset %d: wrong record length", segName(l.dir, seg), off)
	}
	rec, ok := parseRecord(b[4:])
	if !ok || rec.id != id {
		return nil, fmt.Errorf("blob log %s damaged at offset %d: checksum or ID mismatch", segName(l.dir, seg), off)
	}
	return rec.env, nil
}

func (l *vlog) reader(seg uint64) (*os.File, error) {
	l.mu.RLock()
	f, ok := l.readers[seg]
	gone := l.gone[seg]
	l.mu.RUnlock()
	if ok {
		return f, nil
	}
	if gone {
		return nil, errRecordGone
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.readers[seg]; ok {
		return f, nil
	}
	if l.gone[seg] {
		return nil, errRecordGone
	}
	f, err := os.Open(segName(l.dir, seg))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errRecordGone
		}
		return nil, fmt.Errorf("failed to open blob log: %w", err)
	}
	l.readers[seg] = f
	return f, nil
}

// remove deletes segment seg, which must not be the active one. A reader
// that still holds its file gets errRecordGone.
func (l *vlog) remove(seg uint64) error {
	if seg == l.seg {
		return nil
	}
	l.mu.Lock()
	if f, ok := l.readers[seg]; ok {
		f.Close()
		delete(l.readers, seg)
	}
	l.gone[seg] = true
	l.mu.Unlock()
	path := segName(l.dir, seg)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("failed to remove blob log segment: %w", err)
	}
	if err == nil {
		l.size.Add(-st.Size())
	}
	return nil
}

func (l *vlog) close() error {
	l.mu.Lock()
	for seg, f := range l.readers {
		f.Close()
		delete(l.readers, seg)
	}
	l.mu.Unlock()
	if l.active != nil {
		err := errors.Join(l.sync(), l.active.Close())
		l.active = nil
		return err
	}
	return nil
}
