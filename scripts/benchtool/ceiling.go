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

// createStoreFile makes an empty store file with the store's own schema (its migrations, its
// triggers) by opening and closing it through package store.
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

func removeDB(path string) {
	for _, suf := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suf)
	}
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

// sqliteCeiling inserts n rows into the store file at path (created with the store's schema if
// absent) in transactions of 1000 rows, WAL, synchronous=FULL like the store, with one prepared
// INSERT, and returns rows/s. It is the bound a relay's ingest is measured against: the store's
// schema with nothing else around it (no network, no parsing, no duplicate or quota checks).
func sqliteCeiling(path string, n int) (float64, error) {
	if err := createStoreFile(path); err != nil {
		return 0, err
	}
	// The store's writer lets its WAL reach 64 MiB before checkpointing on the committer
	// (16384 pages); the same here, so neither side pays a checkpoint inside the timing.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(16384)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	src := newRowSource()
	start := time.Now()
	for done := 0; done < n; {
		k := min(1000, n-done)
		if err := insertRows(db, src, k, loadTag); err != nil {
			return 0, err
		}
		done += k
	}
	rate := float64(n) / time.Since(start).Seconds()
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return rate, err
}

func insertRows(db *sql.DB, src *rowSource, k int, tagFor func(uint64) []byte) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	st, err := tx.Prepare("INSERT OR IGNORE INTO blobs (id, tag, expiry, size, env) VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		tx.Rollback()
		return err
	}
	for j := 0; j < k; j++ {
		id, tag, exp := src.next(tagFor)
		if _, err := st.Exec(id[:], tag, exp, len(src.env), src.env); err != nil {
			tx.Rollback()
			return err
		}
	}
	st.Close()
	return tx.Commit()
}

// Mailboxes of the prefilled store: 5000 of them, and one target mailbox (tag 0xAA…) that
// receives every rows/targetBlobs-th row, so its blobs are spread over the whole file.
const targetBlobs = 1000

var targetTag = func() (t [32]byte) {
	for i := range t {
		t[i] = 0xAA
	}
	return t
}()

// prefill creates a store file with the store's schema and fills it with rows blobs, the
// triggers keeping the store's totals and mailbox counts as on any insert. It is a setup step,
// not a measurement: synchronous=OFF, large transactions, a large page cache.
func prefill(path string, rows int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := createStoreFile(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	every := uint64(max(1, rows/targetBlobs))
	tagFor := func(i uint64) []byte {
		if i%every == 0 {
			return targetTag[:]
		}
		t := make([]byte, 32)
		t[0], t[1], t[2] = byte(i%5000), byte(i%5000>>8), 1
		return t
	}
	src := newRowSource()
	for done := 0; done < rows; {
		k := min(20000, rows-done)
		if err := insertRows(db, src, k, tagFor); err != nil {
			return err
		}
		done += k
		if done%200000 == 0 {
			logf("  prefill: %d rows", done)
		}
	}
	var blobs int64
	if err := db.QueryRow("SELECT blobs FROM totals").Scan(&blobs); err != nil {
		return err
	}
	if blobs < int64(rows) {
		return errors.New("prefill: totals count fewer rows than inserted")
	}
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}
