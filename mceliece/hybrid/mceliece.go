package hybrid

import "github.com/echorelay/echorelay/mceliece"

// lookupMcEliece finds a Classic McEliece parameter set by name; nil when the
// parent package does not know it.
var lookupMcEliece = mceliece.ByName
