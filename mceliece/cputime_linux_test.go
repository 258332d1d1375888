//go:build linux

package mceliece

import "syscall"

// processCPUNanos returns the user+system CPU time of the process, so that benchmarks
// can report CPU time per operation next to wall time on a shared machine.
func processCPUNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
