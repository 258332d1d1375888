//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/echo/seal"
	"github.com/echorelay/echorelay/internal/web/webstore"
	"github.com/echorelay/echorelay/mceliece/hybrid"
)

// IndexedDB keys (the worker's object store "echorelay" holds bytes only).
const (
	keyIdentity = "identity" // the identity file, passphrase-protected (PROTOCOL.md 7.6)
	keyHistory  = "history"  // webstore's sealed snapshot
	filePrefix  = "file/"    // a received file: Vault-sealed name || 0 || content
	fileLabel   = "web-file-v1"
)

// pollEvery is how often the worker reads its relay while unlocked: it completes invites,
// sends what waits in the outbox and catches up on what the subscription missed. New
// messages come at once through the subscription (watchLoop).
const pollEvery = 3 * time.Second

// opTimeout bounds one call to the relay (an invite's bundle is a megabyte).
const opTimeout = 2 * time.Minute

var (
	errLocked   = errors.New("the identity is locked: enter its passphrase")
	errNoID     = errors.New("no identity here yet: create one")
	errBadInput = errors.New("bad input")
)

type app struct {
	host js.Value

	mu    sync.Mutex // guards everything below
	relay string     // the serving relay's client address, as invites carry it
	fp    string
	wsURL string
	id    *seal.Identity
	st    *webstore.Store
	c     *client.Client
	vault *client.Vault
	stop  context.CancelFunc
	// rewatch asks watchLoop to subscribe again (a friend was added); buffered, never blocks.
	rewatch chan struct{}
	saving  chan struct{} // a token: one snapshot write at a time
	dirty   atomic.Bool   // the history changed since the last save (set by the store)
}

func newApp(host js.Value) *app {
	a := &app{host: host, saving: make(chan struct{}, 1), rewatch: make(chan struct{}, 1)}
	a.saving <- struct{}{}
	return a
}

// call is echorelayCall(op, args).
func (a *app) call(_ js.Value, args []js.Value) any {
	op := args[0].String()
	arg := js.Undefined()
	if len(args) > 1 {
		arg = args[1]
	}
	return newPromise(func() (any, error) {
		fn, ok := ops[op]
		if !ok {
			return nil, fmt.Errorf("%w: no operation %q", errBadInput, op)
		}
		return fn(a, arg)
	})
}

var ops = map[string]func(*app, js.Value) (any, error){
	"init":     (*app).opInit,
	"status":   (*app).opStatus,
	"create":   (*app).opCreate,
	"unlock":   (*app).opUnlock,
	"lock":     (*app).opLock,
	"invite":   (*app).opInvite,
	"accept":   (*app).opAccept,
	"friends":  (*app).opFriends,
	"history":  (*app).opHistory,
	"sendText": (*app).opSendText,
	"sendFile": (*app).opSendFile,
	"receive":  (*app).opReceive,
	"file":     (*app).opFile,
	"export":   (*app).opExport,
	"import":   (*app).opImport,
	"passwd":   (*app).opPasswd,
	"qr":       (*app).opQR,
}

func str(v js.Value, k string) string {
	if v.IsUndefined() || v.IsNull() {
		return ""
	}
	x := v.Get(k)
	if x.Type() != js.TypeString {
		return ""
	}
	return x.String()
}

func (a *app) idbGet(key string) ([]byte, error) {
	v, err := await(a.host.Call("idbGet", key))
	if err != nil {
		return nil, fmt.Errorf("failed to read browser storage: %w", err)
	}
	return bytesOf(v), nil
}

func (a *app) idbPut(key string, b []byte) error {
	if _, err := await(a.host.Call("idbPut", key, jsBytes(b))); err != nil {
		return fmt.Errorf("failed to write browser storage: %w", err)
	}
	return nil
}

func (a *app) emit(kind string, fields map[string]any) {
	m := map[string]any{"event": kind}
	for k, v := range fields {
		m[k] = v
	}
	a.host.Call("emit", js.ValueOf(m))
}

// opInit takes the serving relay's facts from /relay.json.
func (a *app) opInit(v js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.relay, a.fp, a.wsURL = str(v, "relay"), str(v, "fingerprint"), str(v, "ws")
	if a.relay == "" || a.wsURL == "" {
		return nil, fmt.Errorf("%w: init needs relay and ws", errBadInput)
	}
	return a.statusLocked()
}

func (a *app) opStatus(js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.statusLocked()
}

func (a *app) statusLocked() (any, error) {
	file, err := a.idbGet(keyIdentity)
	if err != nil {
		return nil, err
	}
	m := map[string]any{"hasIdentity": file != nil, "unlocked": a.c != nil, "relay": a.relay}
	if a.id != nil {
		m["fingerprint"] = a.id.Fingerprint().String()
		m["shortID"] = seal.ShortID(a.id.Fingerprint())
	}
	return js.ValueOf(m), nil
}

// opCreate makes a new identity (the slow part: McEliece key generation), protects it with the
// passphrase and opens it.
func (a *app) opCreate(v js.Value) (any, error) {
	pass := str(v, "passphrase")
	if len(pass) < 8 {
		return nil, fmt.Errorf("%w: the passphrase needs at least 8 characters", errBadInput)
	}
	a.emit("progress", map[string]any{"step": "keys", "text": "making your keys (post-quantum McEliece, the slow part)"})
	t0 := time.Now()
	id, err := seal.GenerateIdentity(hybrid.Default())
	if err != nil {
		return nil, err
	}
	tKeys := time.Since(t0)
	a.emit("progress", map[string]any{"step": "protect", "text": "protecting them with your passphrase"})
	t1 := time.Now()
	file, err := id.Marshal([]byte(pass))
	if err != nil {
		return nil, err
	}
	tProtect := time.Since(t1)
	a.emit("progress", map[string]any{"step": "save", "text": "saving in this browser"})
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.idbPut(keyIdentity, file); err != nil {
		return nil, err
	}
	a.openLocked(id, webstore.New(nil))
	if err := a.saveLocked(); err != nil {
		return nil, err
	}
	return js.ValueOf(map[string]any{"fingerprint": id.Fingerprint().String(), "keysMs": tKeys.Milliseconds(),
		"protectMs": tProtect.Milliseconds(), "totalMs": time.Since(t0).Milliseconds()}), nil
}

// opUnlock opens the stored identity with the passphrase; a wrong one is refused and changes
// nothing.
func (a *app) opUnlock(v js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	file, err := a.idbGet(keyIdentity)
	if err != nil {
		return nil, err
	}
	if file == nil {
		return nil, errNoID
	}
	t0 := time.Now()
	id, err := seal.ParseIdentity(file, []byte(str(v, "passphrase")))
	if errors.Is(err, seal.ErrPassphrase) {
		return nil, errors.New("wrong passphrase")
	}
	if err != nil {
		return nil, err
	}
	st := webstore.New(nil)
	if sealed, err := a.idbGet(keyHistory); err != nil {
		return nil, err
	} else if sealed != nil {
		if st, err = webstore.Restore(id.HistoryKey(), sealed, nil); err != nil {
			return nil, err
		}
	}
	a.openLocked(id, st)
	return js.ValueOf(map[string]any{"fingerprint": id.Fingerprint().String(), "ms": time.Since(t0).Milliseconds()}), nil
}

func (a *app) opLock(js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeLocked()
	return js.ValueOf(map[string]any{}), nil
}

// openLocked starts a client over id and st and the loop that reads the relay.
func (a *app) openLocked(id *seal.Identity, st *webstore.Store) {
	a.closeLocked()
	c, err := client.New(client.Options{Identity: id, Store: st, Dial: dialer(a.relay, a.fp, a.wsURL), Files: sink{a},
		Via: a.relay, ViaFP: a.fp})
	if err != nil {
		panic(err) // unreachable: every option is set
	}
	a.id, a.st, a.c, a.vault = id, st, c, client.NewVault(id.HistoryKey())
	st.SetChanged(a.changed)
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	go a.pollLoop(ctx, c)
	go a.watchLoop(ctx, c)
}

func (a *app) closeLocked() {
	if a.stop != nil {
		a.stop()
	}
	a.id, a.st, a.c, a.vault, a.stop = nil, nil, nil, nil, nil
}

// changed marks the history for the next save; the save runs after the operation that
// changed it (saveLater).
func (a *app) changed() { a.dirty.Store(true) }

// saveLocked writes the history snapshot now.
func (a *app) saveLocked() error {
	if a.st == nil {
		return nil
	}
	<-a.saving
	defer func() { a.saving <- struct{}{} }()
	a.dirty.Store(false) // before the snapshot: a change during it makes the next save
	b, err := a.st.Snapshot(a.id.HistoryKey())
	if err == nil {
		err = a.idbPut(keyHistory, b)
	}
	if err != nil {
		a.dirty.Store(true)
	}
	return err
}

// client returns the open client or errLocked.
func (a *app) client() (*client.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.c == nil {
		return nil, errLocked
	}
	return a.c, nil
}

// after saves the history if the operation changed it.
func (a *app) after() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.dirty.Load() {
		return nil
	}
	return a.saveLocked()
}

// watchLoop keeps a subscription to the relay for the friends' tags (client.Watch), so that
// a message shows the moment it is stored; it starts again when a friend is added, and after
// a failure (or while there is nobody to watch) with a capped backoff. The poll loop reads
// whatever a gap in the subscription missed.
func (a *app) watchLoop(ctx context.Context, c *client.Client) {
	wait := time.Second
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-a.rewatch:
				cancel()
			case <-wctx.Done():
			}
		}()
		err := c.Watch(wctx, a.relay, func(ev client.Event) {
			a.emit(eventFields(ev))
			a.after()
			a.emit("pushed", map[string]any{})
		})
		restarted := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		if ctx.Err() != nil {
			return
		}
		if restarted && err == nil {
			wait = time.Second
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.rewatch:
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// watchAgain makes watchLoop subscribe again, for a new friend's tags.
func (a *app) watchAgain() {
	select {
	case a.rewatch <- struct{}{}:
	default:
	}
}

func (a *app) pollLoop(ctx context.Context, c *client.Client) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		a.receive(ctx, c)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// receive reads the relay once and emits what came, with how long the reading took.
func (a *app) receive(ctx context.Context, c *client.Client) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	t0 := time.Now()
	res, err := c.Receive(ctx, client.ReceiveOptions{Relay: a.relay})
	took := time.Since(t0)
	if serr := a.after(); err == nil {
		err = serr
	}
	if err != nil {
		a.emit("relay", map[string]any{"ok": false, "error": err.Error()})
		return 0, took, err
	}
	if e := res.Failed[a.relay]; e != nil {
		a.emit("relay", map[string]any{"ok": false, "error": e.Error()})
	} else {
		a.emit("relay", map[string]any{"ok": true})
	}
	for _, ev := range res.Events {
		a.emit(eventFields(ev))
		switch ev.(type) {
		case client.FriendAddedEvent, client.GroupChangeEvent:
			a.watchAgain()
		}
	}
	if len(res.Events) > 0 {
		texts := 0
		for _, ev := range res.Events {
			if _, ok := ev.(client.MessageEvent); ok {
				texts++
			}
		}
		a.emit("received", map[string]any{"events": len(res.Events), "texts": texts, "ms": float64(took.Microseconds()) / 1000})
	}
	return len(res.Events), took, nil
}

func eventFields(ev client.Event) (string, map[string]any) {
	switch e := ev.(type) {
	case client.MessageEvent:
		return "message", map[string]any{"from": e.From, "text": e.Text, "time": e.Time.UnixMilli()}
	case client.FileEvent:
		return "file", map[string]any{"from": e.From, "name": e.Name, "size": float64(e.Size), "key": e.Where,
			"time": e.Time.UnixMilli()}
	case client.FriendAddedEvent:
		return "friend", map[string]any{"name": e.Name, "safety": e.SafetyNumber}
	case client.OutboxSentEvent:
		return "sent", map[string]any{}
	case client.RejectedEvent:
		return "rejected", map[string]any{"reason": e.Reason.String()}
	case client.GroupMessageEvent:
		return "group", map[string]any{"group": e.Group, "from": e.From, "time": e.Time.UnixMilli()}
	case client.GroupFileEvent:
		return "group", map[string]any{"group": e.Group, "from": e.From, "time": e.Time.UnixMilli(), "file": e.Name}
	case client.GroupChangeEvent:
		return "groupChange", map[string]any{"group": e.Group, "joined": e.Joined, "gone": e.Gone,
			"added": jsStrings(e.Added), "removed": jsStrings(e.Removed)}
	case client.GroupRefusedEvent:
		return "groupRefused", map[string]any{"group": e.Group, "error": e.Err.Error()}
	}
	return "other", map[string]any{"what": fmt.Sprintf("%T", ev)}
}

// jsStrings makes ss a value js.ValueOf takes.
func jsStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (a *app) opReceive(js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	n, took, err := a.receive(context.Background(), c)
	if err != nil {
		return nil, err
	}
	return js.ValueOf(map[string]any{"events": n, "ms": float64(took.Microseconds()) / 1000}), nil
}

func (a *app) opInvite(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	inv, err := c.Invite(ctx, a.relay, str(v, "name"), str(v, "as"))
	if serr := a.after(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return js.ValueOf(map[string]any{"code": inv.Code()}), nil
}

func (a *app) opAccept(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	inv, err := seal.ParseInviteCode(str(v, "code"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	f, err := c.Accept(ctx, inv, client.AcceptOptions{Name: str(v, "name"), As: str(v, "as"), Relay: a.relay, Wait: time.Minute})
	if serr := a.after(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	a.watchAgain()
	return js.ValueOf(map[string]any{"name": f.Name, "safety": c.SafetyNumber(f)}), nil
}

func (a *app) opFriends(js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	fs, err := c.Friends()
	if err != nil {
		return nil, err
	}
	last, err := c.History("", 1000)
	if err != nil {
		return nil, err
	}
	lastAt, preview := map[string]int64{}, map[string]string{}
	for _, h := range last {
		if h.Group != "" {
			continue // groups.go lists the groups
		}
		lastAt[h.Name] = h.Time.UnixMilli()
		p := string(h.Body)
		if h.Kind == "file" {
			p = "a file"
		}
		if r := []rune(p); len(r) > 60 {
			p = string(r[:60]) + "…"
		}
		if h.Out {
			p = "you: " + p
		}
		preview[h.Name] = p
	}
	out := make([]any, 0, len(fs))
	for _, f := range fs {
		out = append(out, map[string]any{"name": f.Name, "safety": c.SafetyNumber(f),
			"fingerprint": f.Fingerprint().String(), "last": float64(lastAt[f.Name]), "preview": preview[f.Name]})
	}
	return js.ValueOf(out), nil
}

func (a *app) opHistory(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	name := str(v, "name")
	hs, err := c.History(name, 500)
	if err != nil {
		return nil, err
	}
	pending := map[int64]string{}
	if ob, err := c.Outbox(); err == nil {
		for _, o := range ob {
			if o.To == name {
				pending[o.Created.UnixNano()] = o.LastErr
			}
		}
	}
	out := make([]any, 0, len(hs))
	for _, h := range hs {
		m := map[string]any{"out": h.Out, "time": float64(h.Time.UnixMilli()), "kind": h.Kind, "body": string(h.Body)}
		if h.Out {
			m["state"] = "relay"
			if e, ok := pending[h.Time.UnixNano()]; ok {
				m["state"], m["error"] = "waiting", e
			}
		}
		out = append(out, m)
	}
	return js.ValueOf(out), nil
}

func sendResult(r *client.SendResult) js.Value {
	m := map[string]any{"queued": r.Queued, "chunks": r.Chunks}
	if r.Err != nil {
		m["error"] = r.Err.Error()
	}
	return js.ValueOf(m)
}

func (a *app) opSendText(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r, err := c.SendText(ctx, str(v, "name"), str(v, "text"), client.SendOptions{Relay: a.relay})
	if serr := a.after(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return sendResult(r), nil
}

func (a *app) opSendFile(v js.Value) (any, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	data := bytesOf(v.Get("data"))
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r, err := c.SendFile(ctx, str(v, "name"), str(v, "fileName"), data, client.SendOptions{Relay: a.relay})
	if serr := a.after(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return sendResult(r), nil
}
