//go:build !linux

package mceliece

func processCPUNanos() int64 { return 0 }
