package client

import "bytes"

// GroupStates implements Store.
func (s *MemStore) GroupStates() ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, 0, len(s.groups))
	for _, st := range s.groups {
		out = append(out, bytes.Clone(st))
	}
	return out, nil
}

// PutGroupState implements Store.
func (s *MemStore) PutGroupState(id [16]byte, state []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[[16]byte][]byte{}
	}
	s.groups[id] = bytes.Clone(state)
	return nil
}
