package seal

// pinnedSafety is SafetyNumber of the fingerprints 00 01 … 1f and ff fe … e0, computed
// independently (Python hashlib) from the definition in PROTOCOL.md section 7.1.
const pinnedSafety = "57598 24537 89305 43073 11413 45908 99238 24220 27049 48215 38515 17298"
