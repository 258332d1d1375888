package store

import (
	"errors"
	"syscall"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// RejectError is a refusal the peer can be told about. The protocol layer,
// which does not import this package, recognises it by its Reason method.
type RejectError struct {
	msg    string
	reason string
}

func (e *RejectError) Error() string { return e.msg }

// Reason is the wire reason code: "store_full" or "quota_exceeded".
func (e *RejectError) Reason() string { return e.reason }

var (
	// ErrFull means the blob does not fit: the global byte cap could not be
	// met by evicting blobs that expire sooner, or SQLite reported
	// SQLITE_FULL (disk full, max_page_count). Nothing committed is lost.
	ErrFull = &RejectError{msg: "store full", reason: "store_full"}

	// ErrQuotaExceeded means the blob's mailbox already holds
	// MaxMailboxBlobs blobs or would exceed MaxMailboxBytes (MaxUntaggedBytes
	// for untagged blobs, which share one quota).
	ErrQuotaExceeded = &RejectError{msg: "mailbox quota exceeded", reason: "quota_exceeded"}

	// ErrOverShare means the store is full and the blob's source (Blob.Source) already
	// holds its fair share, MaxBytes over the number of sources holding blobs: it must not
	// push other sources' blobs out. The wire reason is store_full: for the sender the
	// relay is full.
	ErrOverShare = &RejectError{msg: "store full: this source holds its share of the cache", reason: "store_full"}

	// ErrExpired means the blob's expiry is not after the store's clock.
	ErrExpired = errors.New("blob expired")

	// ErrClosed means the Store was closed.
	ErrClosed = errors.New("store closed")

	// ErrSchemaTooNew means the file was written by a newer version of
	// this package; it is left untouched.
	ErrSchemaTooNew = errors.New("database schema is newer than this program")
)

// isFull reports whether err is SQLite's SQLITE_FULL (any extended code)
// or a full disk under the blob log (ENOSPC, or Options.MaxLogBytes).
func isFull(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL || errors.Is(err, syscall.ENOSPC)
}
