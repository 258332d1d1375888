//go:build race

package peers

// raceEnabled: the race detector slows everything several times, like emulation.
const raceEnabled = true
