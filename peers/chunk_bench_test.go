package peers

import "testing"

// BenchmarkClientPutLarge is BenchmarkClientPut with 256 KiB blobs (a body read in pooled
// chunks, echo/chunk.go), 16 Puts in flight: what the chunks' one extra copy costs on the
// whole path (TLS over QUIC, validation, the blob's hash, the store), in CPU per put.
func BenchmarkClientPutLarge(b *testing.B) {
	benchPuts(b, 256<<10, 256<<10, 16)
}
