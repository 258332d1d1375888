//go:build !js

package client_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/internal/testutil"
)

// TestGroupWatchRings: a group message reaches a watching member when it arrives at the relay,
// not at the next poll (set to an hour here): Watch subscribes to the groups' tags. The member
// keeps watching from before the group exists until after the message, so the subscription
// must also follow the new group's tags.
func TestGroupWatchRings(t *testing.T) {
	defer client.SetGroupPoll(time.Hour)()
	r := startRelay(t)
	clk := newClock()
	teacher, sam := newPeer(t, 0, clk), newPeer(t, 1, clk)
	befriend(t, r, teacher, "teacher", sam, "sam", "")
	wctx, cancel := context.WithCancel(ctx(t))
	var mu sync.Mutex
	var joined bool
	var texts []string
	done := make(chan error, 1)
	go func() {
		done <- sam.Watch(wctx, "", func(e client.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e := e.(type) {
			case client.GroupChangeEvent:
				joined = joined || e.Joined
			case client.GroupMessageEvent:
				texts = append(texts, e.From+": "+e.Text)
			}
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if _, err := teacher.NewGroup(ctx(t), "class 5b", false, []string{"sam"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "sam joined while watching", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return joined
	})
	for _, text := range []string{"first", "second"} {
		if err := teacher.SendGroupText(ctx(t), "class 5b", text); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 30*time.Second, "sam's watch shows "+text, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(texts) > 0 && texts[len(texts)-1] == "teacher: "+text
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(texts) != 2 {
		t.Fatalf("sam's watch showed %q, want each text once", texts)
	}
}
