//go:build !linux

package memtrim

// ReleaseBinaryPages does nothing outside Linux (Android builds as Linux too).
func ReleaseBinaryPages() int64 { return 0 }
