package echo

// LastSeq is the sequence number of the newest blob in the store, when the store can say it
// (package store can; a Store without a LastSeq method cannot, and ok is false). An Echo link's
// backlog (peers/echobacklog.go) resumes from such a number.
func (r *Relay) LastSeq() (seq uint64, ok bool) {
	s, ok := r.store.(interface{ LastSeq() uint64 })
	if !ok {
		return 0, false
	}
	return s.LastSeq(), true
}
