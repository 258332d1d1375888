// Package echo is the echorelay protocol: the envelope a relay stores, the frames on a link,
// the validation rules, the flood rule and set reconciliation between neighbours (reconcile.go
// is its codec, reconciler.go the algorithm over a SetStore). PROTOCOL.md beside this file is its specification;
// the codecs here parse and marshal exactly what it says, and parse-then-marshal is byte-exact.
//
// Who calls it: package peers moves frames between network links and a Relay; cmd/echorelay
// wires a Relay to a store. What it deliberately does not do: it opens no sockets, owns no
// database and never looks inside a payload. Its Store interface is implemented by package
// store, which it does not import (errors from the store are recognised by their Reason method).
//
// Sub-package seal is the client side: identities, sealed payloads, mailbox tags and invites
// (PROTOCOL.md section 7). Relays never import it.
package echo
