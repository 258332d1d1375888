//go:build !js

package client_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo"
)

// Recipient and SendTo (`echorelay send NAME`): a friend's name sends to the friend with the
// options, a group's name to the group, a friend's name wins over a group's, and a name that
// is neither is ErrNoFriend; what was sent arrives.
func TestSendToFriendOrGroup(t *testing.T) {
	r := startRelay(t)
	clk := newClock()
	teacher, sam := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, teacher, "teacher", sam, "sam", "")
	if _, err := teacher.NewGroup(ctx(t), "class", false, []string{"sam"}); err != nil {
		t.Fatal(err)
	}
	receive(t, sam) // sam joins
	for name, want := range map[string]bool{"sam": false, "class": true} {
		if group, err := teacher.Recipient(name); err != nil || group != want {
			t.Fatalf("Recipient(%q): group %v, %v; want %v", name, group, err, want)
		}
	}
	if _, err := teacher.Recipient("nobody"); !errors.Is(err, client.ErrNoFriend) {
		t.Fatalf("Recipient of nobody: %v", err)
	}
	if _, _, err := teacher.SendTo(ctx(t), "nobody", "", []byte("hi"), client.SendOptions{}); !errors.Is(err, client.ErrNoFriend) {
		t.Fatalf("SendTo nobody: %v", err)
	}
	res, group, err := teacher.SendTo(ctx(t), "sam", "", []byte("see you"), client.SendOptions{TTL: time.Hour})
	if err != nil || group || res.To != "sam" || res.Chunks != 1 || res.Queued {
		t.Fatalf("SendTo the friend: %+v, group %v, %v", res, group, err)
	}
	data := bytes.Repeat([]byte("page "), 1000)
	res, group, err = teacher.SendTo(ctx(t), "class", "page.txt", data, client.SendOptions{})
	if err != nil || !group || res.To != "class" || res.Chunks < 1 {
		t.Fatalf("SendTo the group: %+v, group %v, %v", res, group, err)
	}
	if _, group, err = teacher.SendTo(ctx(t), "class", "", []byte("homework"), client.SendOptions{}); err != nil || !group {
		t.Fatalf("SendTo the group, text: group %v, %v", group, err)
	}
	var got []string
	for range 2 { // the group's messages may need a second read
		for _, e := range receive(t, sam) {
			switch e := e.(type) {
			case client.MessageEvent:
				got = append(got, "pair: "+e.Text)
			case client.GroupMessageEvent:
				got = append(got, "group: "+e.Text)
			case client.GroupFileEvent:
				got = append(got, "group file: "+e.Name)
			}
		}
	}
	if s := strings.Join(got, "; "); !strings.Contains(s, "pair: see you") || !strings.Contains(s, "group: homework") || !strings.Contains(s, "group file: page.txt") {
		t.Fatalf("sam read %q", s)
	}
	// A friend called like the group is who `send` writes to.
	befriend(t, r, teacher, "teacher", newPeer(t, 2, clk), "class", "")
	if group, err := teacher.Recipient("class"); err != nil || group {
		t.Fatalf("Recipient of a friend named like a group: group %v, %v", group, err)
	}
}

// Shown counts what is no rejection; FailedErr names every relay that failed, sorted, and
// wraps one of their errors.
func TestReceiveResultSummary(t *testing.T) {
	res := &client.ReceiveResult{Events: []client.Event{client.RejectedEvent{}, client.MessageEvent{Text: "a"}, client.RejectedEvent{}, client.FriendAddedEvent{}}}
	if n := res.Shown(); n != 2 {
		t.Fatalf("Shown %d, want 2", n)
	}
	if err := res.FailedErr(); err != nil {
		t.Fatalf("FailedErr with no failure: %v", err)
	}
	errB := errors.New("b is down")
	res.Failed = map[string]error{"b:1": errB, "a:1": errB}
	err := res.FailedErr()
	if err == nil || !errors.Is(err, errB) || err.Error() != "could not read a:1, b:1 (b is down); messages there wait for the next run" {
		t.Fatalf("FailedErr: %v", err)
	}
}

// PutBlob stores an envelope (the ID is the envelope's) and BlobData gives back its payload or
// the whole envelope; a malformed envelope is an error, not a payload.
func TestPutBlobAndBlobData(t *testing.T) {
	r := startRelay(t)
	e := echo.Envelope{Expiry: time.Now().Add(time.Hour).Unix(), Payload: []byte("raw blob")}
	env, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cn, err := dial(ctx(t), r.addr(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	id, err := client.PutBlob(ctx(t), cn, env)
	if err != nil || id != echo.BlobID(env) {
		t.Fatalf("PutBlob: %s, %v", id, err)
	}
	var items []echo.Item
	if _, err := client.FetchPages(ctx(t), cn, nil, 0, 0, func(it echo.Item) error { items = append(items, it); return nil }); err != nil || len(items) != 1 {
		t.Fatalf("fetched %d blobs, %v", len(items), err)
	}
	if got, data, err := client.BlobData(items[0], false); err != nil || got != id || string(data) != "raw blob" {
		t.Fatalf("BlobData: %s %q %v", got, data, err)
	}
	if _, data, err := client.BlobData(items[0], true); err != nil || !bytes.Equal(data, env) {
		t.Fatalf("BlobData raw: %q %v", data, err)
	}
	if _, _, err := client.BlobData(echo.Item{Envelope: []byte("not an envelope")}, false); err == nil || !strings.Contains(err.Error(), "bad envelope") {
		t.Fatalf("BlobData of a malformed envelope: %v", err)
	}
	if _, err := client.PutBlob(ctx(t), cn, env[:10]); err == nil {
		t.Fatal("PutBlob of a truncated envelope: no error")
	}
}
