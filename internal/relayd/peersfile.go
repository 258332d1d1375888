package relayd

import (
	"sync"
	"time"

	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/peers"
)

// peersFile is what the relay knows of its peers file: when it last applied it and the error
// of the last attempt that failed, so the status page, `echorelay status` and `echorelay
// reload` can say what a SIGHUP did instead of leaving it to the log.
type peersFile struct {
	mu         sync.Mutex
	path       string
	neighbours int
	loaded     time.Time // last successful read
	err        string    // last failed read, "" after a good one
	errAt      time.Time
	attempts   int64 // reads tried, at start and on each SIGHUP
}

// load reads the file and records the outcome; on error the caller keeps the old list.
func (p *peersFile) load(now time.Time) ([]peers.Peer, error) {
	ps, err := peers.LoadPeersFile(p.path)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if err != nil {
		p.err, p.errAt = err.Error(), now
		return nil, err
	}
	p.neighbours, p.loaded, p.err, p.errAt = len(ps), now, "", time.Time{}
	return ps, nil
}

func (p *peersFile) view() admin.PeersFile {
	p.mu.Lock()
	defer p.mu.Unlock()
	return admin.PeersFile{Path: p.path, Neighbours: p.neighbours, Loaded: p.loaded.UTC().Truncate(time.Second),
		Error: p.err, ErrorAt: p.errAt.UTC().Truncate(time.Second), Attempts: p.attempts}
}
