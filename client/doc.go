// Package client is the messaging client of echorelay as a library: an identity, its friends
// and invites, sending (text and chunked files, through an outbox), receiving (fetch, open,
// verify, reassemble, deduplicate) and watching, for the `echorelay` command and for the
// clients built on it later (a ratchet, groups, a browser build of this same package).
//
// Who calls it: cmd/echorelay wires a Client from an identity (client/home reads the home
// directory and opens its SQLite history), a Store and a Dialer that fills Conn with a
// *peers.Client. Everything a user should see comes back as typed values: Receive returns
// Events (MessageEvent, FileEvent, FriendAddedEvent, RejectedEvent with a RejectReason, …),
// Send a SendResult, errors wrap one sentinel each (ErrNoFriend, ErrAlreadyAnswered, …).
//
// What it deliberately does not do: print, read flags or the environment, exit, handle
// signals, or import the relay's network code. It builds for GOOS=js GOARCH=wasm: the relay
// connection is the Conn interface, the history is the Store interface (MemStore here, SQLite
// in client/home, IndexedDB later), files are written through a FileSink.
//
// The receiver rules (PROTOCOL.md section 7.3 and 7.5), in the order Receive applies them to
// one blob:
//
//	envelope parses                      else RejectMalformed (only under a friend's tag)
//	seal.Open: AEAD, layout, recipient,  else RejectNotForMe, RejectTampered, RejectMisaddressed,
//	  known sender, both signatures           RejectUnknownSender, RejectMalformed
//	sender is not blocked                else dropped silently
//	sender owns the tag it came under    else RejectWrongSender
//	time within [now-maxTTL-skew, now+skew]  else RejectTime
//	not old-format content dated after   else RejectDowngrade
//	  the friend first spoke the ratchet
//	(sender, msg_id) not seen before     else RejectReplay (same blob again: skipped silently)
//	content: text, file chunk, other     bad chunk: RejectBadChunk; unknown type: UnknownTypeEvent
//
// Ratchet sessions (session.go, package client/ratchet, PROTOCOL.md 7.8): the first sender
// without a session seals its messages as above with a session start (content type 3); from
// the friend's first ratchet message on, every message goes over the ratchet (payload version
// 2): the tag's friend's session opens it (every friend's when reading everything), else
// RejectNotForMe; a body that does not authenticate is RejectTampered; the time window and
// the seen set apply as above, keyed by the message's position. A friend whose state went
// back (a restored backup) gets a new session through the long-term keys, and both sides a
// SessionResetEvent; messages known to be missing are a GapEvent. SendControl and
// ControlEvent carry control payloads for other parts of the client (groups) over the
// session.
//
// A message is marked seen only after it authenticated and passed the checks above, so a
// forged blob cannot burn a message ID. The seen set is pruned to the relay's longest lifetime
// plus skew and capped at MaxSeen rows.
package client
