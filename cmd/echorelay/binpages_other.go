//go:build !linux

package main

// releaseBinaryPages does nothing outside Linux (Android builds as Linux too).
func releaseBinaryPages() int64 { return 0 }
