// Package group is echorelay's group messaging core: a closed group of up to MaxMembers
// members (a school class, a family), in which a message is encrypted once for the whole
// group and put once under the group's mailbox tag, whatever the member count.
//
// Design (PROTOCOL.md section "Groups" is the truth for the bytes):
//
//   - Sender keys. Each member sends with its own symmetric chain: HKDF-SHA3-256 steps a
//     chain key to the next one and to a message key that is used once and forgotten. A
//     member announces its chain (at its current index, so a newcomer reads from then on,
//     never before) ONCE per epoch change, as a group blob under the epoch's tag, encrypted
//     under a key of the epoch secret (which only that epoch's members get) and signed with
//     its long-term keys (Ed25519 + ML-DSA-65, the keys of its bundle; the admin's commit
//     names them by their hash). So only admin<->member pairwise sessions are needed: a
//     class's pupils need not be friends of each other. A message names its chain and index
//     in a header encrypted under the epoch's header key, so any holder of the chain opens it
//     whatever arrived before; skipped keys are kept, bounded (MaxSkip, MaxSkipped).
//   - Authenticated to its sender within the group: each chain has its own Ed25519 key, made
//     fresh at each rotation and announced with the chain. Members cannot write in each
//     other's name. The announcement's long-term signature makes a chain's owner provable to
//     the other members (not deniable within the group); a message itself is signed only with
//     its chain's key.
//   - Membership ordered by the admin's device alone. MLS needs a delivery service that
//     orders commits; a flooding network delivers late, twice and out of order. Here only the
//     admin commits, numbering its commits (the epoch), and each commit is a full snapshot:
//     the newest wins, older ones that arrive late add only their epoch secret and cutoffs,
//     duplicates change nothing. Other members propose (PolicyOpen) or ask to leave.
//   - Removal re-keys locally: each remaining member, when it applies the commit, starts a new
//     generation and announces it under the new epoch, which the removed member cannot read:
//     n-1 pairwise commits and n-1 group blobs per removal. The commit names where the
//     removed member's chains end (its cutoff), so its messages sent before the removal still
//     open, and nothing it sends after.
//   - Rotating tags: each commit carries a fresh epoch secret; tags are
//     HMAC(epoch secret, day), so a relay sees a new tag each day and at each change.
//
// Who calls it: client/ (groups.go) holds a Set per identity, fills Transport with its
// ratchet sessions to the admin or the members (SendPairwise) and its relay connections (Put,
// Fetch of EpochTags), hands every pairwise payload of the group control type to
// Set.HandleControl, keeps each group's MarshalState in its encrypted store, and shows the
// Updates. Every call returns typed values: Update with
// Messages (ordered by sender time), Changes and Refused errors that each wrap one sentinel.
//
// What it deliberately does not do: talk to a network, print, read the clock (now is always a
// parameter), store anything (MarshalState gives the state for the client's encrypted store),
// know how a pairwise payload travels, or import peers/ and store/. It builds for GOOS=js
// GOARCH=wasm.
package group
