// Package home is a client's home directory on a device with a file system: the identity file
// and the SQLite history (client.Store), encrypted at rest under the identity's history key.
//
//	HOME/identity     the identity file (seal.Identity.Marshal), 0600
//	HOME/history.db   SQLite: friends, invites, cursors, the seen set, messages, chunks and the
//	                  outbox; every secret or personal value sealed (client.Vault), 0600
//	HOME/files/       files received
//
// It is not built for GOOS=js (modernc.org/sqlite does not build there); a browser client
// uses client.MemStore, and IndexedDB later. cmd/echorelay is its caller; it never prompts,
// prints or reads the environment: the passphrase comes from the caller.
package home
