package hybrid

import (
	"sync"

	"github.com/cloudflare/circl/kem"
)

// DefaultID identifies the default hybrid, mceliece6688128f-mlkem768-x25519.
const DefaultID uint16 = 0x0101

// sets is the identifier table. Identifiers are wire constants: never reuse
// or renumber one; a changed construction gets new identifiers. The high byte
// 0x01 is the family "hybrid v1: McEliece + ML-KEM-768 + X25519, SHA3-256
// combiner"; the low byte numbers the McEliece set.
var sets = []struct {
	id     uint16
	mcName string
}{
	{0x0101, "mceliece6688128f"}, // default: category 5, ISO and BSI listed
	{0x0102, "mceliece6688128"},
	{0x0103, "mceliece6960119f"},
	{0x0104, "mceliece6960119"},
	{0x0105, "mceliece8192128f"},
	{0x0106, "mceliece8192128"},
	{0x0107, "mceliece460896f"},
	{0x0108, "mceliece460896"},
	{0x0109, "mceliece348864f"},
	{0x010a, "mceliece348864"},
}

var registry struct {
	once   sync.Once
	byID   map[uint16]*Scheme
	byName map[string]*Scheme // McEliece set name
	list   []*Scheme
}

func load() {
	registry.once.Do(func() {
		registry.byID = make(map[uint16]*Scheme)
		registry.byName = make(map[string]*Scheme)
		for _, e := range sets {
			mc := lookupMcEliece(e.mcName)
			if mc == nil {
				continue
			}
			s := newScheme(e.id, e.mcName, mc)
			registry.byID[e.id] = s
			registry.byName[e.mcName] = s
			registry.list = append(registry.list, s)
		}
	})
}

// Default returns the default hybrid, mceliece6688128f-mlkem768-x25519
// (identifier DefaultID).
func Default() kem.Scheme { return ByID(DefaultID) }

// New returns the hybrid built on the named Classic McEliece set, e.g.
// "mceliece460896f", or nil when the set is unknown.
func New(mcName string) kem.Scheme {
	load()
	if s, ok := registry.byName[mcName]; ok {
		return s
	}
	return nil
}

// ByID returns the hybrid with the given wire identifier, or nil when the
// identifier is unknown.
func ByID(id uint16) kem.Scheme {
	load()
	if s, ok := registry.byID[id]; ok {
		return s
	}
	return nil
}

// IDOf returns the wire identifier of s, and false when s is not one of the
// hybrids of this package.
func IDOf(s kem.Scheme) (uint16, bool) {
	h, ok := s.(*Scheme)
	if !ok || h == nil {
		return 0, false
	}
	load()
	if registry.byID[h.id] != h {
		return 0, false
	}
	return h.id, true
}

// All returns every hybrid, ordered by identifier.
func All() []kem.Scheme {
	load()
	out := make([]kem.Scheme, len(registry.list))
	for i, s := range registry.list {
		out[i] = s
	}
	return out
}
