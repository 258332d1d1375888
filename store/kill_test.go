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
