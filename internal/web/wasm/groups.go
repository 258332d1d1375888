//go:build js && wasm

package main

// The operations on groups (PROTOCOL.md 7.9, client/groups.go): the page names a group by its
// ID in hex, never by its name, so that two groups of the same name (or a group called like a
// friend) stay apart. The library finds a group by the start of its ID as the CLI's `group`
// commands do.

import (
	"context"
	"encoding/hex"
	"fmt"
	"syscall/js"

	"github.com/echorelay/echorelay/client"
)

func init() {
	for k, fn := range map[string]func(*app, js.Value) (any, error){
		"groups":        (*app).opGroups,
		"groupNew":      (*app).opGroupNew,
		"groupAdd":      (*app).opGroupAdd,
		"groupRemove":   (*app).opGroupRemove,
		"groupLeave":    (*app).opGroupLeave,
		"groupMembers":  (*app).opGroupMembers,
		"groupInvite":   (*app).opGroupInvite,
		"groupHistory":  (*app).opGroupHistory,
		"groupSendText": (*app).opGroupSendText,
		"groupSendFile": (*app).opGroupSendFile,
	} {
		ops[k] = fn
	}
}

// groupID reads args.id: a group's ID, 32 hex digits.
func groupID(v js.Value) (string, error) {
	id := str(v, "id")
	if b, err := hex.DecodeString(id); err != nil || len(b) != 16 {
		return "", fmt.Errorf("%w: a group is named by its ID (32 hex digits)", errBadInput)
	}
	return id, nil
}

func groupFields(c *client.Client, g client.GroupInfo) map[string]any {
	id := hex.EncodeToString(g.ID[:])
	m := map[string]any{"id": id, "name": g.Name, "admin": g.Admin, "isAdmin": g.IsAdmin, "open": g.Open,
		"members": g.Members, "gone": g.Gone, "last": float64(0), "preview": ""}
	if hs, err := c.History(id, 1); err == nil && len(hs) > 0 {
		h := hs[len(hs)-1]
		m["last"] = float64(h.Time.UnixMilli())
		p := string(h.Body)
		if h.Kind == "file" {
			p = "a file"
		}
		if r := []rune(p); len(r) > 60 {
			p = string(r[:60]) + "…"
		}
		who := h.From
		if h.Out {
			who = "you"
		}
		m["preview"] = who + ": " + p
	}
	return m
}

// opGroups lists the groups, with the last message of each for the conversation list.
func (a *app) opGroups(js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	gs, err := c.Groups()
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(gs))
	for _, g := range gs {
		out = append(out, groupFields(c, g))
	}
	return js.ValueOf(out), nil
}

// opGroupNew makes a group with this identity as its admin and args.members (friends' names)
// as its first members.
func (a *app) opGroupNew(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	var members []string
	if ms := v.Get("members"); ms.Type() == js.TypeObject {
		for i := range ms.Length() {
			if m := ms.Index(i); m.Type() == js.TypeString {
				members = append(members, m.String())
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	info, err := c.NewGroup(ctx, str(v, "name"), false, members)
	if serr := a.after(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	a.watchAgain() // the group's tags join the subscription
	return js.ValueOf(groupFields(c, info)), nil
}

// groupOp runs one operation on a group and saves what it changed; its result (nil: none)
// goes to the page. rewatch: the operation moves the group's tags, so the subscription starts
// again.
func (a *app) groupOp(v js.Value, rewatch bool, op func(context.Context, *client.Client, string) (map[string]any, error)) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	id, err := groupID(v)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	res, err := op(ctx, c, id)
	if serr := a.after(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	if rewatch {
		a.watchAgain()
	}
	if res == nil {
		res = map[string]any{}
	}
	return js.ValueOf(res), nil
}

func (a *app) opGroupAdd(v js.Value) (any, error) {
	return a.groupOp(v, true, func(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
		return nil, c.AddToGroup(ctx, id, str(v, "friend"))
	})
}

func (a *app) opGroupRemove(v js.Value) (any, error) {
	return a.groupOp(v, true, func(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
		return nil, c.RemoveFromGroup(ctx, id, str(v, "member"))
	})
}

func (a *app) opGroupLeave(v js.Value) (any, error) {
	return a.groupOp(v, true, func(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
		return nil, c.LeaveGroup(ctx, id)
	})
}

// opGroupMembers gives the group and its members: the friend's name for each friend, else the
// name the admin gave it (what RemoveFromGroup takes).
func (a *app) opGroupMembers(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	id, err := groupID(v)
	if err != nil {
		return nil, err
	}
	var info map[string]any
	gs, err := c.Groups()
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if hex.EncodeToString(g.ID[:]) == id {
			info = groupFields(c, g)
		}
	}
	if info == nil {
		return nil, fmt.Errorf("%w %s", client.ErrNoGroup, id)
	}
	ms, err := c.GroupMembers(id)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		name := m.Name
		if !m.Friend {
			name = m.Nick
		}
		out = append(out, map[string]any{"name": name, "friend": m.Friend, "admin": m.Admin, "me": m.Me,
			"fingerprint": m.FP.String()})
	}
	info["list"] = out
	return js.ValueOf(info), nil
}

// opGroupInvite makes a single-use code for one new member (client.GroupInvite): whoever
// accepts it becomes the friend args.name and, at this client's next read of the relay, a
// member of the group.
func (a *app) opGroupInvite(v js.Value) (any, error) {
	return a.groupOp(v, false, func(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
		inv, err := c.GroupInvite(ctx, id, a.relay, str(v, "name"), str(v, "as"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"code": inv.Code()}, nil
	})
}

// opGroupHistory gives the group's messages, oldest first, each incoming one with its
// sender's name. An own message is in the history once its blob is on a relay (the library
// keeps it only then), so its state is "relay".
func (a *app) opGroupHistory(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	id, err := groupID(v)
	if err != nil {
		return nil, err
	}
	hs, err := c.History(id, 500)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(hs))
	for _, h := range hs {
		m := map[string]any{"out": h.Out, "time": float64(h.Time.UnixMilli()), "kind": h.Kind, "body": string(h.Body),
			"from": h.From}
		if h.Out {
			m["state"] = "relay"
		}
		out = append(out, m)
	}
	return js.ValueOf(out), nil
}

func (a *app) opGroupSendText(v js.Value) (any, error) {
	return a.groupOp(v, false, func(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
		return nil, c.SendGroupText(ctx, id, str(v, "text"))
	})
}

func (a *app) opGroupSendFile(v js.Value) (any, error) {
	data := bytesOf(v.Get("data"))
	return a.groupOp(v, false, func(ctx context.Context, c *client.Client, id string) (map[string]any, error) {
		_, err := c.SendGroupFile(ctx, id, str(v, "fileName"), data)
		return nil, err
	})
}
