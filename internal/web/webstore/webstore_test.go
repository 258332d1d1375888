package webstore

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/mceliece/hybrid"
)

// Everything a Store holds comes back from its snapshot, and only under the right key.
func TestSnapshotRoundTrip(t *testing.T) {
	id, err := seal.GenerateIdentity(hybrid.New("mceliece348864f"))
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	s := New(func() { changes++ })
	now := time.Unix(1_800_000_000, 0).UTC()
	fp := id.Fingerprint()
	if err := s.PutFriend(&client.Friend{Name: "ana", Bundle: id.Bundle(), Pair: []byte("pair-secret"), TheirRelay: "10.0.0.1:7788",
		MyRelay: "10.0.0.2:7788", MyRelayFP: "ab", Added: now}); err != nil {
		t.Fatal(err)
	}
	inv, err := seal.NewInviteFor(id, "10.0.0.2:7788", [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	// Every field set, so that one the snapshot forgets (a group invite's group did) fails below.
	invRec := &client.InviteRecord{Invite: inv, RelayFP: "01", Name: "bo", Created: now, Expires: now.Add(time.Hour),
		State: client.InviteUsed, Acceptor: fp, Group: [16]byte{4}}
	s.PutInvite(invRec)
	s.SetCursor("10.0.0.2:7788", "friend", 42)
	if r, _ := s.MarkSeen(fp, seal.MessageID{7}, [32]byte{8}, now); r != client.SeenNew {
		t.Fatalf("MarkSeen: %v", r)
	}
	s.AddMessage(&client.Message{Friend: fp, Out: true, Time: now, Kind: "text", Body: []byte("hello")})
	s.AddChunk(fp, seal.FileChunk{FileID: [16]byte{3}, Index: 1, Count: 2, Size: 6, Data: []byte("abc")}, now)
	s.AddOutbox([]*client.OutboxEntry{{To: fp, Relay: "10.0.0.1:7788", Created: now, What: "text", Envelope: []byte("env")}})
	sess := &client.SessionRecord{Friend: fp, ID: [16]byte{5}, Initiator: true, Start: []byte("start"), State: []byte("ratchet state"),
		Started: now, PeerSince: now.Add(time.Minute), Reported: 2, Spoke: now, Prev: []byte("prev"), PrevUntil: now.Add(time.Hour)}
	s.PutSession(sess)
	s.PutGroupState([16]byte{6}, []byte("group state"))
	if changes < 7 {
		t.Fatalf("changed was called %d times for 7 changes", changes)
	}
	key := id.HistoryKey()
	sealed, err := s.Snapshot(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore([32]byte{9}, sealed, nil); !errors.Is(err, client.ErrCorrupt) {
		t.Fatalf("Restore under another key: %v", err)
	}
	r, err := Restore(key, sealed, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Snapshot(key)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := client.NewVault(key).Open(snapshotLabel, nil, sealed)
	b2, _ := client.NewVault(key).Open(snapshotLabel, nil, again)
	if string(b1) != string(b2) {
		t.Fatalf("a restored store snapshots differently:\n%s\n%s", b1, b2)
	}
	fs, _ := r.Friends()
	if len(fs) != 1 || fs[0].Fingerprint() != fp || string(fs[0].Pair) != "pair-secret" {
		t.Fatalf("friends after restore: %+v", fs)
	}
	if c, _ := r.Cursor("10.0.0.2:7788", "friend"); c != 42 {
		t.Fatalf("cursor after restore: %d", c)
	}
	if res, _ := r.MarkSeen(fp, seal.MessageID{7}, [32]byte{9}, now); res != client.SeenReplay {
		t.Fatalf("the seen set was not restored: %v", res)
	}
	if n, _ := r.AddChunk(fp, seal.FileChunk{FileID: [16]byte{3}, Index: 0, Count: 2, Size: 6, Data: []byte("xyz")}, now); n != 2 {
		t.Fatalf("the waiting chunk was not restored: %d chunks", n)
	}
	invs, _ := r.Invites()
	if len(invs) != 1 || !reflect.DeepEqual(*invs[0], *invRec) {
		t.Fatalf("invites after restore: %+v, want %+v", invs, invRec)
	}
	ob, _ := r.Outbox()
	if len(ob) != 1 || string(ob[0].Envelope) != "env" {
		t.Fatalf("outbox after restore: %+v", ob)
	}
	if got, _ := r.Session(fp); got == nil || !reflect.DeepEqual(*got, *sess) {
		t.Fatalf("session after restore: %+v, want %+v", got, sess)
	}
	if gs, _ := r.GroupStates(); len(gs) != 1 || string(gs[0]) != "group state" {
		t.Fatalf("group states after restore: %q", gs)
	}
}

// PruneSeen forgets in the snapshot what it forgets in memory.
func TestPruneSeenMirrored(t *testing.T) {
	s := New(nil)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 5 {
		s.MarkSeen(seal.Fingerprint{1}, seal.MessageID{byte(i)}, [32]byte{byte(i)}, t0.Add(time.Duration(i)*time.Minute))
	}
	s.PruneSeen(t0.Add(time.Minute), 3) // drops #0 by age, then #1 by count
	if len(s.seen) != 3 || s.MemStore.SeenCount() != 3 {
		t.Fatalf("after prune: mirror %d, store %d", len(s.seen), s.MemStore.SeenCount())
	}
	if _, ok := s.seen[seenKey{seal.Fingerprint{1}, seal.MessageID{1}}]; ok {
		t.Fatal("the oldest entry beyond the cap is still mirrored")
	}
}

// Restore of any authentic bytes either fails cleanly or gives a Store that snapshots again;
// bytes not sealed under the key never reach the decoder.
func FuzzRestore(f *testing.F) {
	key := [32]byte{1, 2, 3}
	f.Add([]byte(`{"Version":1}`))
	f.Add([]byte(`{"Version":1,"Friends":[{"Name":"a","Bundle":"AAAA"}],"Cursors":[{"Relay":"r","Scope":"s","Cursor":3}]}`))
	f.Add([]byte(`{"Version":1,"Chunks":[{"Sender":[1],"File":[2],"Count":2,"Size":4,"Parts":{"0":"YWI="}}],"Outbox":[{"Envelope":"ZQ=="}]}`))
	f.Add([]byte(`{"Version":2}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		s, err := Restore(key, client.NewVault(key).Seal(snapshotLabel, nil, plain), nil)
		if err != nil {
			return
		}
		if _, err := s.Snapshot(key); err != nil {
			t.Fatalf("a restored store does not snapshot: %v", err)
		}
	})
}

// Every method of client.Store is one the snapshot accounts for: a new one (a new kind of
// state) fails here until Snapshot and Restore keep it, instead of being lost at a reload.
func TestSnapshotCoversTheStore(t *testing.T) {
	known := map[string]bool{
		"Friends": true, "PutFriend": true, "RemoveFriend": true, "Invites": true, "PutInvite": true, "DropInvite": true,
		"Cursor": true, "SetCursor": true, "MarkSeen": true, "PruneSeen": true, "AddMessage": true, "Messages": true,
		"AddChunk": true, "TakeChunks": true, "Session": true, "PutSession": true, "GroupStates": true, "PutGroupState": true,
		"AddOutbox": true, "Outbox": true, "UpdateOutbox": true, "DropOutbox": true, "Close": true,
	}
	st := reflect.TypeFor[client.Store]()
	for i := range st.NumMethod() {
		if m := st.Method(i).Name; !known[m] {
			t.Errorf("client.Store has %s, which the web client's snapshot does not keep: add it to Snapshot and Restore", m)
		}
	}
}
