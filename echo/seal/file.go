package seal

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// FileChunk is the content of a TypeFile message (PROTOCOL.md section 7.4):
//
//	file_id [16] || index u32 || count u32 || size u64 || name_len u16 || name || data
//
// A file of size bytes is sent as count chunks with indexes 0..count-1, each sealed on its
// own; the receiver reassembles them in index order once all have arrived.
type FileChunk struct {
	FileID [16]byte
	Index  uint32
	Count  uint32
	Size   uint64 // the whole file
	Name   string // base name, UTF-8, no path separators
	Data   []byte
}

// FileChunkOverhead is the size of a chunk's header for a name of n bytes.
func FileChunkOverhead(n int) int { return 16 + 4 + 4 + 8 + 2 + n }

// MaxNameLen bounds a file name.
const MaxNameLen = 255

// Marshal encodes the chunk.
func (c *FileChunk) Marshal() []byte {
	b := make([]byte, 0, FileChunkOverhead(len(c.Name))+len(c.Data))
	b = append(b, c.FileID[:]...)
	b = binary.BigEndian.AppendUint32(b, c.Index)
	b = binary.BigEndian.AppendUint32(b, c.Count)
	b = binary.BigEndian.AppendUint64(b, c.Size)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Name)))
	b = append(b, c.Name...)
	return append(b, c.Data...)
}

// SafeName reports whether name is acceptable as a received file's name.
func SafeName(name string) bool {
	return name != "" && len(name) <= MaxNameLen && utf8.ValidString(name) && name != "." &&
		name != ".." && !strings.ContainsAny(name, "/\\\x00") && filepath.Base(name) == name
}

// ParseFileChunk decodes and checks a chunk: a safe name, index < count, data within size.
func ParseFileChunk(b []byte) (FileChunk, error) {
	var c FileChunk
	if len(b) < FileChunkOverhead(0) {
		return c, fmt.Errorf("%w: file chunk of %d bytes", ErrMalformed, len(b))
	}
	copy(c.FileID[:], b)
	c.Index = binary.BigEndian.Uint32(b[16:])
	c.Count = binary.BigEndian.Uint32(b[20:])
	c.Size = binary.BigEndian.Uint64(b[24:])
	n := int(binary.BigEndian.Uint16(b[32:]))
	if len(b) < FileChunkOverhead(n) {
		return c, fmt.Errorf("%w: file chunk name beyond its end", ErrMalformed)
	}
	c.Name = string(b[34 : 34+n])
	c.Data = b[34+n:]
	if !SafeName(c.Name) {
		return c, fmt.Errorf("%w: unsafe file name %q", ErrMalformed, c.Name)
	}
	if c.Count == 0 || c.Index >= c.Count || uint64(len(c.Data)) > c.Size {
		return c, fmt.Errorf("%w: chunk %d of %d (%d of %d bytes)", ErrMalformed, c.Index, c.Count, len(c.Data), c.Size)
	}
	return c, nil
}
