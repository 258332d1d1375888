//go:build js && wasm

// Command wasm is the web client's engine: package client compiled to WebAssembly, run in the
// page's Web Worker (internal/web/assets/worker.js). It holds the identity and the history,
// talks to the relay that served the page over its WebSocket endpoint, and answers the
// worker's calls. Keys never leave it except sealed: IndexedDB (reached through the worker's
// JavaScript) gets the identity file, protected by the user's passphrase with Argon2id
// (PROTOCOL.md 7.6: 64 MiB, 3 passes), and the history snapshot sealed under the identity's
// history key (internal/web/webstore).
//
// The JavaScript API, set on globalThis before main blocks:
//
//	echorelayCall(op string, args object) Promise<object>   (the ops are in api.go)
//
// and it calls, on globalThis.echorelayHost, the worker's idbGet(key) → Promise<Uint8Array|
// undefined>, idbPut(key, Uint8Array) → Promise, idbDelete(key) → Promise and emit(object).
package main

import (
	"syscall/js"
)

func main() {
	a := newApp(js.Global().Get("echorelayHost"))
	js.Global().Set("echorelayCall", js.FuncOf(a.call))
	js.Global().Get("echorelayHost").Call("ready")
	select {}
}
