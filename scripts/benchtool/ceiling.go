package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/echorelay/echorelay/store"
	_ "modernc.org/sqlite" // the driver the store uses
)

// blobSize is the envelope size of every blob in this benchmark: 1 KiB.
const blobSize = 1024

// quicCeiling sends n frames of 4+1+blobSize bytes over one quic-go stream on loopback and
// returns frames/s as the receiver counts them. buffered=false is one Write per frame (what a
// link does when its queue runs dry after each frame); buffered=true goes through a 64 KiB
// bufio.Writer, like a link's writer under load.
func quicCeiling(n int, buffered bool) (float64, error) {
	srvTLS, cliTLS, err := benchTLS()
	if err != nil {
		return 0, err
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", srvTLS, &quic.Config{})
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got := make(chan error, 1)
	var end time.Time
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			got <- err
			return
		}
		defer c.CloseWithError(0, "")
		st, err := c.AcceptStream(ctx)
		if err != nil {
			got <- err
			return
		}
		r := bufio.NewReaderSize(st, 64<<10)
		body := make([]byte, blobSize+1)
		var hdr [4]byte
		for i := 0; i < n; i++ {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				got <- err
				return
			}
			if _, err := io.ReadFull(r, body[:binary.BigEndian.Uint32(hdr[:])]); err != nil {
				got <- err
				return
			}
		}
		end = time.Now()
		got <- nil
	}()
	c, err := quic.DialAddr(ctx, ln.Addr().String(), cliTLS, &quic.Config{})
	if err != nil {
		return 0, err
	}
	defer c.CloseWithError(0, "")
	st, err := c.OpenStreamSync(ctx)
	if err != nil {
		return 0, err
	}
	frame := make([]byte, 5+blobSize)
	binary.BigEndian.PutUint32(frame, 1+blobSize)
	frame[4] = 2
	var w io.Writer = st
	var bw *bufio.Writer
	if buffered {
		bw = bufio.NewWriterSize(st, 64<<10)
		w = bw
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := w.Write(frame); err != nil {
			return 0, err
		}
	}
	if bw != nil {
		if err := bw.Flush(); err != nil {
			return 0, err
		}
	}
	if err := <-got; err != nil {
		return 0, err
	}
	return float64(n) / end.Sub(start).Seconds(), nil
}

// benchTLS is a throwaway self-signed Ed25519 certificate for the raw QUIC measurement.
func benchTLS() (*tls.Config, *tls.Config, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
	srv := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"bench"}, MinVersion: tls.VersionTLS13}
	cli := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"bench"}, MinVersion: tls.VersionTLS13} // throwaway loopback cert
	return srv, cli, nil
}

// createStoreFile makes an empty store (the SQLite file with the store's own schema, its
// migrations and triggers, and the blob log directory beside it) by opening and closing it
// through package store.
func createStoreFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	s, err := store.Open(path, store.Options{})
	if err != nil {
		return err
	}
	return s.Close()
}

// removeDB removes a store: the SQLite file, its WAL and shared memory, and its blob log
// directory (<path>-log).
func removeDB(path string) {
	for _, suf := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suf)
	}
	os.RemoveAll(path + "-log")
}

// rowSource makes distinct rows shaped like the load: 1 KiB envelope, random ID, a tag out
// of 1000 mailboxes, an expiry a few hours ahead.
type rowSource struct {
	salt [16]byte
	i    uint64
	env  []byte
	exp  int64
}

func newRowSource() *rowSource {
	s := &rowSource{env: make([]byte, blobSize), exp: time.Now().Add(3 * time.Hour).Unix()}
	rand.Read(s.salt[:])
	rand.Read(s.env)
	return s
}

func (s *rowSource) next(tagFor func(i uint64) []byte) (id [32]byte, tag []byte, expiry int64) {
	s.i++
	var b [24]byte
	copy(b[:], s.salt[:])
	binary.BigEndian.PutUint64(b[16:], s.i)
	id = sha256.Sum256(b[:])
	return id, tagFor(s.i), s.exp + int64(s.i%3600)
}

func loadTag(i uint64) []byte {
	t := make([]byte, 32)
	t[0], t[1], t[2] = byte(i%1000), byte(i%1000>>8), 3
	return t
}

// The store's persistence ceiling.
//
// Package store keeps each envelope as a record appended to its blob log (segment files in
// <store>-log/, fsynced before a put is acknowledged) and puts only an index row into SQLite
// (env an empty blob, seg and off pointing at the record). The ceiling measures exactly that
// persistence with nothing around it — no network, no parsing, no duplicate or quota checks,
// no overlay, no group-commit queue. Per batch of ceilingBatch blobs:
//
//  1. append ceilingBatch records, each a logRecordHeader-byte header in the store's record
//     format (length, CRC-32C, seq, expiry, id, tag) followed by the 1 KiB envelope, to one
//     scratch file in the store file's directory with a single write, then fsync that file;
//  2. insert the ceilingBatch index rows into the store file's blobs table in one
//     transaction (BEGIN IMMEDIATE … COMMIT) with one prepared INSERT, WAL, synchronous=FULL,
//     and add them to the totals and mailbox rows in the same transaction, as the store does
//     once per index transaction (its inserts fire no triggers).
//
// The rows are inserted with an empty env and seg NULL. In the real store seg NULL marks a
// legacy row whose envelope is inline in env, so such a row is a valid (empty) blob, whereas a
// made-up seg/off would point into a log segment that does not hold it and would corrupt the
// store: the big ceiling runs against the real prefilled store file. So, untimed, after the
// timed batches every row the ceiling inserted is deleted again (seq above the largest seq
// before it started; no one else writes the file meanwhile), the store's totals are checked
// to be back where they were, the WAL is checkpointed, and the scratch file is removed.
//
// A seg NULL row also differs from the store's own rows in two small ways: it has no entry in
// the partial index blobs_seg (seg IS NOT NULL), and its segment is not counted (one upsert
// per index transaction in the store). Both are work the ceiling leaves out, so on that count
// it is slightly higher than the store's true cost.
//
// It is a stricter bound than the store's own schedule on the index side (the store commits
// its index transaction only every Options.FlushBlobs puts or FlushEvery; the ceiling commits
// every ceilingBatch rows) and a slightly looser one on the log side (one scratch file: the
// store also starts a new 16 MiB segment, with a file and a directory fsync, every ~15,000
// records).
//
// Before the blob log (store schema version 3) the ceiling was batched inserts of rows with the
// 1 KiB envelope inline, 1000 rows per transaction, and nothing else. Figures of the two
// definitions are not comparable.
const (
	ceilingBatch    = 1000
	logRecordHeader = 4 + 4 + 8 + 8 + 32 + 32 // the store's record header (store/vlog.go): bytes before the envelope
	// ceilingDefinition goes into bench.json, so a report says which ceiling it holds.
	ceilingDefinition = "per 1000 blobs: 1000 log records (88 B header + 1 KiB envelope) appended to one file and fsynced, then 1000 index rows (env x'', seg NULL) in one SQLite transaction, WAL, synchronous=FULL"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendLogRecord encodes one record in the store's blob log format, big-endian:
// length u32 (bytes after it) || crc u32 (CRC-32C of what follows) || seq u64 || expiry i64 ||
// id [32] || tag [32] || envelope.
func appendLogRecord(buf []byte, seq uint64, expiry int64, id [32]byte, tag, env []byte) []byte {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(logRecordHeader-4+len(env)))
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(expiry))
	buf = append(buf, id[:]...)
	var t [32]byte
	copy(t[:], tag)
	buf = append(buf, t[:]...)
	buf = append(buf, env...)
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+8:], castagnoli))
	return buf
}

// sqliteCeiling measures the store's persistence ceiling (see above) for n blobs against the
// store file at path, created with the store's schema if absent, and returns blobs/s. The rows
// it inserts are deleted again and its scratch log file removed before it returns, also when
// the timed part fails.
func sqliteCeiling(path string, n int) (rate float64, err error) {
	if err := createStoreFile(path); err != nil {
		return 0, err
	}
	// The store's writer lets its WAL reach 64 MiB before checkpointing on the committer
	// (16384 pages); the same here, so neither side pays a checkpoint inside the timing.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(16384)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var before, blobs0, bytes0 int64
	if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM blobs").Scan(&before); err != nil {
		return 0, err
	}
	if err := conn.QueryRowContext(ctx, "SELECT blobs, bytes FROM totals").Scan(&blobs0, &bytes0); err != nil {
		return 0, err
	}
	scratch := filepath.Join(filepath.Dir(path), "ceiling-scratch.log")
	f, err := os.OpenFile(scratch, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		f.Close()
		os.Remove(scratch)
		// Untimed: take the ceiling's rows out of the store again.
		if cerr := undoCeilingRows(ctx, conn, before, blobs0, bytes0); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	st, err := conn.PrepareContext(ctx, "INSERT OR IGNORE INTO blobs (id, tag, expiry, size, env) VALUES (?, ?, ?, ?, x'')")
	if err != nil {
		return 0, err
	}
	defer st.Close()
	src := newRowSource()
	buf := make([]byte, 0, ceilingBatch*(logRecordHeader+blobSize))
	rows := make([]indexRow, ceilingBatch)
	start := time.Now()
	for done := 0; done < n; {
		k := min(ceilingBatch, n-done)
		buf = buf[:0]
		for j := range k {
			id, tag, exp := src.next(loadTag)
			rows[j] = indexRow{id, tag, exp}
			buf = appendLogRecord(buf, src.i, exp, id, tag, src.env)
		}
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		if err := insertIndexRows(ctx, conn, st, rows[:k], len(src.env)); err != nil {
			return 0, err
		}
		done += k
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// indexRow is what the ceiling puts into SQLite for one blob besides its size.
type indexRow struct {
	id     [32]byte
	tag    []byte
	expiry int64
}

// insertIndexRows inserts one batch of index rows in one transaction with the prepared st, and
// adds them to the totals and mailbox rows as the store does once per index transaction (its
// inserts fire no triggers; store/schema.go, migration 3).
func insertIndexRows(ctx context.Context, conn *sql.Conn, st *sql.Stmt, rows []indexRow, size int) error {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	fail := func(err error) error {
		conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	perTag := map[string]int64{}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.id[:], r.tag, r.expiry, size); err != nil {
			return fail(err)
		}
		perTag[string(r.tag)]++
	}
	if _, err := conn.ExecContext(ctx, "UPDATE totals SET blobs = blobs + ?, bytes = bytes + ?", len(rows), len(rows)*size); err != nil {
		return fail(err)
	}
	for tag, n := range perTag {
		if _, err := conn.ExecContext(ctx, `INSERT INTO mailbox (tag, blobs, bytes) VALUES (?, ?, ?)
			ON CONFLICT (tag) DO UPDATE SET blobs = blobs + excluded.blobs, bytes = bytes + excluded.bytes`,
			[]byte(tag), n, n*int64(size)); err != nil {
			return fail(err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(err)
	}
	return nil
}

// undoCeilingRows deletes the rows the ceiling inserted (seq > before), checks that the
// store's totals are back at blobs0/bytes0, and truncates the WAL.
func undoCeilingRows(ctx context.Context, conn *sql.Conn, before, blobs0, bytes0 int64) error {
	if _, err := conn.ExecContext(ctx, "DELETE FROM blobs WHERE seq > ?", before); err != nil {
		return fmt.Errorf("failed to delete the ceiling's rows: %w", err)
	}
	var blobs, bytes int64
	if err := conn.QueryRowContext(ctx, "SELECT blobs, bytes FROM totals").Scan(&blobs, &bytes); err != nil {
		return err
	}
	if blobs != blobs0 || bytes != bytes0 {
		return fmt.Errorf("store totals after the ceiling: %d blobs, %d bytes; before: %d, %d", blobs, bytes, blobs0, bytes0)
	}
	_, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}
