//go:build race

package seal

// raceEnabled: race-instrumented McEliece key generation is about ten times slower.
const raceEnabled = true
