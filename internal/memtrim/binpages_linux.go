//go:build linux

package memtrim

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ReleaseBinaryPages asks the kernel to unmap the pages of the relay's own executable that
// are mapped read-only (code and constants; never a writable segment, whose pages may hold
// changes). They stay in the page cache; those still in use fault back in on their next
// access. It returns the bytes of the mappings it advised.
func ReleaseBinaryPages() int64 {
	exe, err := os.Executable()
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED); e == 0 {
			total += int64(end - start)
		}
	}
	return total
}
