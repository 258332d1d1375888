//go:build !race

package testutil

// RaceEnabled is true when the tests run under the race detector.
const RaceEnabled = false
