// Package wsproto names the constants of the WebSocket carrier of the client protocol
// (PROTOCOL.md, "WebSocket carrier"), shared by the relay's endpoint (internal/web) and the
// browser's transport (internal/web/wasm).
package wsproto

import "github.com/echorelay/echorelay/echo"

// Subprotocol is the WebSocket subprotocol both sides MUST negotiate (Sec-WebSocket-Protocol).
// RFC 6455 subprotocol names are tokens, so the ALPN name "echorelay/1" cannot be used as is.
const Subprotocol = "echorelay.v1"

// Path is where a relay's web listener takes the WebSocket.
const Path = "/ws"

// MaxMessage is the largest binary message either side sends: one whole frame of the largest
// envelope (its 4-byte length included) fits in one.
const MaxMessage = 4 + echo.DefaultMaxBlob + echo.MaxFrameExtra
