package hybrid

import "github.com/cloudflare/circl/kem"

// lookupMcEliece finds a Classic McEliece parameter set by name.
//
// TODO: wire to mceliece.ByName once the parent package builds.
var lookupMcEliece = func(string) kem.Scheme { return nil }
