// Package peers moves echorelay frames over the network: QUIC (quic.go) and TCP+TLS (tls.go)
// transports, the node's key and self-signed certificate (identity.go), the peers file
// (peersfile.go), one link per connection with one reader, one writer and bounded queues
// between (link.go), pacing clients to what the neighbours' flood queues take (pace.go), dialing configured neighbours with capped exponential backoff and jitter
// (dial.go), set reconciliation sessions with neighbours and the WANTs they lead to
// (reconcile.go), and the client side of the protocol used by `echorelay put/get` (client.go),
// which verifies the relay's fingerprint whenever the caller knows it (DialClientWith).
//
// The Node is the one owner of its neighbour links: one carrier link per neighbour relay
// (claim, node.go) and the Echo links (echolink.go). echo.Relay's flood rule keeps no record
// of them; it asks the Node (FloodLinks, an echo.Neighbours) on every flood, and each link
// tells the rule its echo.LinkKind.
//
// Who calls it: cmd/echorelay builds a Node around an echo.Relay. It never interprets an
// envelope beyond handing it to the relay, and never logs a blob body, a mailbox tag or a
// client's address (neighbour addresses come from the operator's own peers file and may be
// logged).
//
// Abuse limits (limits.go, PROTOCOL.md section 9): token buckets per client address for
// SUBMITs and bytes (rate_limited with retry_after, never a silent drop), stamps when
// Config.StampBits asks, a BLOB bucket per neighbour link that slows reading instead of
// dropping, caps on connections overall and per address, and timeouts for the handshake, for
// finishing a frame once begun, for silent clients and for stalled writes. Every link's end is
// counted under a short reason (Node.Abuse), never with an address.
//
// Link states, per dialed neighbour:
//
//	idle ──dial──▶ connecting ──TLS+HELLO ok──▶ up ──error/close──▶ backoff ──timer/SIGHUP──▶ connecting
//	                    └──────────fail──────────────────────────────▶ backoff
package peers
