package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestKill9 runs puts in a child process, SIGKILLs it mid-stream and
// checks that every put the child saw acknowledged is in the file: with an
// fsync before every ack, and with SyncEvery (acks before the fsync), where
// the kernel still holds what the killed process wrote.
func TestKill9(t *testing.T) {
	if path := os.Getenv("STORE_KILL9_CHILD"); path != "" {
		every, _ := time.ParseDuration(os.Getenv("STORE_KILL9_SYNCEVERY"))
		kill9Child(path, every)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	t.Parallel()
	for _, every := range []time.Duration{0, time.Hour} {
		t.Run("SyncEvery="+every.String(), func(t *testing.T) { kill9(t, every) })
	}
}

func kill9(t *testing.T, syncEvery time.Duration) {
	path := dbPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "STORE_KILL9_CHILD="+path, "STORE_KILL9_SYNCEVERY="+syncEvery.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []int
	sc := bufio.NewScanner(out)
	for len(acked) < 2000 && sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue // test framework output
		}
		acked = append(acked, n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < 2000 {
		t.Fatalf("child acknowledged only %d puts", len(acked))
	}
	s := openStore(t, path, Options{Now: newClock().Now})
	for _, n := range acked {
		if ok, err := s.Has(mkBlob(n, [32]byte{}, 0, 512).ID); !ok || err != nil {
			t.Fatalf("acknowledged put %d lost after kill -9 (%v)", n, err)
		}
	}
	checkTotals(t, s)
	t.Logf("%d acknowledged puts survived, %d blobs in file", len(acked), s.Stats().Blobs)
}

// kill9Child puts blobs forever from 8 goroutines, printing each
// acknowledged blob number, until it is killed.
func kill9Child(path string, syncEvery time.Duration) {
	s, err := Open(path, Options{Now: newClock().Now, SyncEvery: syncEvery})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; ; i += 8 {
				if _, err := s.Put(context.Background(), mkBlob(i, tagOf(byte(g+1)), t0+100, 512)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, i)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestPowerCutWithSyncEvery stands in for a power cut under SyncEvery: a
// child acknowledges 200 puts, commits the index (which fsyncs the log
// first), acknowledges 100 more that no fsync covered, and is killed; then
// the active segment is cut back to what the fsync covered — all that a
// power cut is sure to leave — or to that plus half a record (a torn
// page), or three records survive of which the middle one reads as zeros
// (blocks allocated but never written); and the index commits, which do not
// fsync (synchronous=NORMAL), may be lost: the WAL cut back to what Open's
// schema commit (FULL) had fsynced. Open must recover
// cleanly with the
// first 200 and whatever whole records precede the first bad one: the index
// never points past the last fsync, and the torn tail is dropped.
func TestPowerCutWithSyncEvery(t *testing.T) {
	if path := os.Getenv("STORE_POWERCUT_CHILD"); path != "" {
		powerCutChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	t.Parallel()
	const rec = 512 + recHeader
	for _, c := range []struct {
		name         string
		keep         int64 // bytes kept after the synced end
		zeroFrom     int64 // then zeroed from here (relative to it) to keep
		wantSurvived int   // blobs after the first 200 that Open keeps
		dropWAL      bool  // the index commits since Open are lost too
	}{
		{"cut at the fsync", 0, 0, 0, false},
		{"torn record", rec / 2, rec / 2, 0, false},
		{"zeroed record", 3 * rec, rec, 1, false},
		{"index commits lost", rec / 2, rec / 2, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := dbPath(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestPowerCutWithSyncEvery$")
			cmd.Env = append(os.Environ(), "STORE_POWERCUT_CHILD="+path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var seg uint64
			var synced, walSynced int64 = -1, -1
			acked := false
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if _, err := fmt.Sscanf(sc.Text(), "synced %d %d", &seg, &synced); err == nil {
					continue
				}
				if _, err := fmt.Sscanf(sc.Text(), "wal %d", &walSynced); err == nil {
					continue
				}
				if sc.Text() == "acked" {
					acked = true
					break
				}
			}
			cmd.Process.Kill()
			cmd.Wait()
			if synced < 0 || walSynced < 0 || !acked {
				t.Fatalf("child did not get through its puts (synced %d, wal %d, acked %v)", synced, walSynced, acked)
			}
			f := segName(logDir(path), seg)
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() < synced+100*(512+recHeader) {
				t.Fatalf("segment holds %d bytes, want the 100 unsynced records after %d", st.Size(), synced)
			}
			if err := os.Truncate(f, synced+c.keep); err != nil {
				t.Fatal(err)
			}
			if c.zeroFrom < c.keep {
				fh, err := os.OpenFile(f, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, err = fh.WriteAt(make([]byte, c.keep-c.zeroFrom), synced+c.zeroFrom)
				fh.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			if c.dropWAL {
				if st, err := os.Stat(path + "-wal"); err != nil || st.Size() <= walSynced {
					t.Fatalf("the index commit left no WAL frames to lose (%v, %d after Open)", err, walSynced)
				}
				if err := os.Truncate(path+"-wal", walSynced); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(path + "-shm"); err != nil { // rebuilt from the WAL
					t.Fatal(err)
				}
			}
			if err := IntegrityCheck(context.Background(), path); err != nil {
				t.Fatalf("integrity check after the cut: %v", err)
			}
			s := openStore(t, path, Options{Now: newClock().Now})
			for n := range 300 {
				ok, err := s.Has(mkBlob(n, tagOf(1), t0+100, 512).ID)
				if err != nil || ok != (n < 200+c.wantSurvived) {
					t.Fatalf("blob %d: present %v (%v); want the 200 covered by the fsync and %d whole record(s) after", n, ok, err, c.wantSurvived)
				}
			}
			checkTotals(t, s)
		})
	}
}

// powerCutChild runs TestPowerCutWithSyncEvery's puts and waits to be
// killed.
func powerCutChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := Open(path, Options{Now: newClock().Now, SyncEvery: time.Hour, FlushEvery: time.Hour})
	if err != nil {
		fail(err)
	}
	wal, err := os.Stat(path + "-wal")
	if err != nil {
		fail(err)
	}
	fmt.Printf("wal %d\n", wal.Size())
	for n := range 300 {
		if n == 200 {
			if err := s.Sync(); err != nil {
				fail(err)
			}
			segs, err := listSegments(logDir(path))
			if err != nil || len(segs) == 0 {
				fail(fmt.Errorf("no log segment: %v", err))
			}
			last := segs[len(segs)-1]
			st, err := os.Stat(segName(logDir(path), last))
			if err != nil {
				fail(err)
			}
			fmt.Printf("synced %d %d\n", last, st.Size())
		}
		if _, err := s.Put(context.Background(), mkBlob(n, tagOf(1), t0+100, 512)); err != nil {
			fail(err)
		}
	}
	fmt.Println("acked")
	select {}
}
