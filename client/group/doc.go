// Package group is echorelay's group messaging core: a closed group of up to MaxMembers
// members (a school class, a family), in which a message is encrypted once for the whole
// group and put once under the group's mailbox tag, whatever the member count.
//
// Design (PROTOCOL.md section "Groups" is the truth for the bytes):
//
//   - Sender keys. Each member sends with its own symmetric chain: HKDF-SHA3-256 steps a
//     chain key to the next one and to a message key that is used once and forgotten. A
//     member hands its chain (at its current index, so a newcomer reads from then on, never
//     before) to each other member as a control payload over their pairwise session. A
//     message names its chain and index in a header encrypted under the epoch's header key,
//     so any holder of the chain opens it whatever arrived before; skipped keys are kept,
//     bounded (MaxSkip, MaxSkipped).
//   - Authenticated to its sender within the group: each chain has its own Ed25519 key, made
//     fresh at each rotation and handed over with the chain. Members cannot write in each
//     other's name; outsiders learn nothing from the signature about which identity signed,
//     as long as the hand-over went through a deniable session.
//   - Membership ordered by the admin's device alone. MLS needs a delivery service that
//     orders commits; a flooding network delivers late, twice and out of order. Here only the
//     admin commits, numbering its commits (the epoch), and each commit is a full snapshot:
//     the newest wins, older ones that arrive late add only their epoch secret and cutoffs,
//     duplicates change nothing. Other members propose (PolicyOpen) or ask to leave.
//   - Removal re-keys locally: each remaining member, when it applies the commit, starts a new
//     generation and hands it to the remaining members only. The commit names where the
//     removed member's chains end (its cutoff), so its messages sent before the removal still
//     open, and nothing it sends after.
//   - Rotating tags: each commit carries a fresh epoch secret; tags are
//     HMAC(epoch secret, day), so a relay sees a new tag each day and at each change.
//
// Who calls it: client/ is to hold a Set per identity (not wired yet), fill Transport with
// its ratchet sessions (SendPairwise) and its relay connections (Put, Fetch), hand every
// pairwise payload of the group control type to Set.HandleControl, keep each group's
// MarshalState in its encrypted store, and show the Updates. Every call returns typed values: Update with
// Messages (ordered by sender time), Changes and Refused errors that each wrap one sentinel.
//
// What it deliberately does not do: talk to a network, print, read the clock (now is always a
// parameter), store anything (MarshalState gives the state for the client's encrypted store),
// know how a pairwise payload travels, or import peers/ and store/. It builds for GOOS=js
// GOARCH=wasm.
package group
