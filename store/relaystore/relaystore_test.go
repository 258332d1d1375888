package relaystore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/echorelay/echorelay/echo"
	"github.com/echorelay/echorelay/store"
)

// The adapter over a real SQLite file: Insert commits before done, Scan pages by cursor and
// tag, and the reconciliation view sees the same blobs, with the end of the key space (an
// expiry beyond int64) clamped rather than wrapped.
func TestAdapterOverRealStore(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "cache.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := New(st)
	var tag echo.Tag
	tag[0] = 7
	var ids []echo.ID
	for i := 0; i < 3; i++ {
		e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix() + int64(i), Payload: []byte{byte(i)}}
		if i == 1 {
			e.Tag = tag
		}
		env, _ := e.Marshal()
		id := echo.BlobID(env)
		ids = append(ids, id)
		done := make(chan error, 1)
		a.Insert(id, e.Tag, [8]byte{byte(i)}, e.Expiry, env, func(inserted bool, err error) {
			if err == nil && !inserted {
				t.Errorf("blob %d not inserted", i)
			}
			done <- err
		})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if ok, err := a.Has(id); err != nil || !ok {
			t.Fatalf("Has after done: %v %v", ok, err)
		}
	}
	var seqs []uint64
	next, more, err := a.Scan(nil, 0, 2, 0, func(seq uint64, env []byte) { seqs = append(seqs, seq) })
	if err != nil || len(seqs) != 2 || !more || next != seqs[1] {
		t.Fatalf("first page: %v next %d more %v err %v", seqs, next, more, err)
	}
	var tagged int
	if _, _, err := a.Scan([][32]byte{tag}, 0, 10, 0, func(uint64, []byte) { tagged++ }); err != nil || tagged != 1 {
		t.Fatalf("tag scan found %d, err %v", tagged, err)
	}
	keys, err := a.Keys(echo.Key{}, echo.MaxKey, 10)
	if err != nil || len(keys) != 3 {
		t.Fatalf("Keys over the whole space: %d keys, err %v", len(keys), err)
	}
	if n, err := a.Count(echo.Key{}, echo.MaxKey); err != nil || n != 3 {
		t.Fatalf("Count: %d, %v", n, err)
	}
	env, ok, err := a.Get(ids[2])
	if err != nil || !ok || echo.BlobID(env) != ids[2] {
		t.Fatalf("Get: ok %v err %v", ok, err)
	}
}
