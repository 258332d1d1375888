package peers

import (
	"net"
	"net/netip"
	"sync"
)

// Connection slots. Clients (and relays not in the peers file) share MaxConns slots, at most
// MaxConnsPerIP from one address. Listed neighbours (a peers-file pin, or the key first seen
// for an unpinned line, known.go) have NeighbourSlots more that clients cannot take, so that
// connections held open by clients (slowloris, a school's worth of phones) never lock a
// neighbour out (issue #15 item 4). Links this node dials take no slot at all.
//
// A connection's key is known only once its TLS handshake is done, so when the client slots
// (or the address's share of them) are full, a new connection gets a neighbour slot on trial:
// at most trialsPerIP per address, for the handshake (HandshakeTimeout at most). After it, a
// listed key keeps the slot, anything else is refused as busy or per_ip, as it would have been
// at once. A listed neighbour that connects while client slots are free moves to a neighbour
// slot after its handshake too (when one is free), so neighbours never hold clients' slots.
//
// With the defaults (512 client slots, 128 per address, 32 neighbour slots, 2 trials per
// address): four addresses can hold every client slot, and a new honest client is refused
// until a slot frees (the frame and idle timeouts free them within seconds of an attack's
// links falling silent); a listed neighbour still links, and to hold every neighbour slot in
// handshakes an attacker needs 16 addresses, each starting a handshake every HandshakeTimeout.

// DefaultNeighbourSlots is the number of connection slots kept for listed neighbours.
const DefaultNeighbourSlots = 32

// trialsPerIP bounds the neighbour slots on trial one address holds.
const trialsPerIP = 2

type slotKind uint8

const (
	slotClient slotKind = iota
	slotTrial
	slotNeighbour
)

type heldSlot struct {
	kind   slotKind
	reason string // a trial's: the refusal if it is not proven ("busy" or "per_ip")
}

// slots holds the neighbour slots and which kind of slot each open connection holds.
type slots struct {
	mu         sync.Mutex
	trials     int
	neighbours int
	trialIP    map[netip.Addr]int
	held       map[string][]heldSlot // by remote address: the slots its connections hold
}

func (s *slots) hold(remote net.Addr, h heldSlot) {
	if s.held == nil {
		s.held = map[string][]heldSlot{}
		s.trialIP = map[netip.Addr]int{}
	}
	k := remote.String()
	s.held[k] = append(s.held[k], h)
}

// count is the connections in neighbour slots, on trial or proven.
func (s *slots) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trials + s.neighbours
}

// connSlot reserves a client slot: one of MaxConns and one of the remote address's
// MaxConnsPerIP; false means refuse (counted under the reason "busy" or "per_ip").
func (n *Node) connSlot(remote net.Addr) bool { return n.takeSlot(remote, false) }

// connSlotOrTrial is connSlot, with a neighbour slot on trial when the client slots are full:
// for connections whose TLS handshake will say who they are (serve calls proveSlot).
func (n *Node) connSlotOrTrial(remote net.Addr) bool { return n.takeSlot(remote, true) }

func (n *Node) takeSlot(remote net.Addr, trial bool) bool {
	reason := n.clientSlot(remote)
	n.slots.mu.Lock()
	if reason == "" {
		n.slots.hold(remote, heldSlot{kind: slotClient})
		n.slots.mu.Unlock()
		return true
	}
	k := clientKey(remote)
	if trial && n.slots.trials+n.slots.neighbours < n.cfg.NeighbourSlots && n.slots.trialIP[k] < trialsPerIP {
		n.slots.hold(remote, heldSlot{kind: slotTrial, reason: reason})
		n.slots.trials++
		n.slots.trialIP[k]++
		n.slots.mu.Unlock()
		return true
	}
	n.slots.mu.Unlock()
	n.refuseSlot(reason)
	return false
}

func (n *Node) refuseSlot(reason string) {
	if reason == "per_ip" {
		n.abuse.perIP.Add(1)
	} else {
		n.refused.Add(1)
	}
	n.abuse.closed(reason)
}

// clientSlot takes a client slot, or says why not: "busy" or "per_ip".
func (n *Node) clientSlot(remote net.Addr) string {
	if n.conns.Add(1) > int32(n.cfg.MaxConns) {
		n.conns.Add(-1)
		return "busy"
	}
	if n.cfg.MaxConnsPerIP > 0 {
		k := clientKey(remote)
		n.abuse.mu.Lock()
		if n.abuse.ipConns == nil {
			n.abuse.ipConns = map[netip.Addr]int{}
		}
		ok := n.abuse.ipConns[k] < n.cfg.MaxConnsPerIP
		if ok {
			n.abuse.ipConns[k]++
		}
		n.abuse.mu.Unlock()
		if !ok {
			n.conns.Add(-1)
			return "per_ip"
		}
	}
	return ""
}

func (n *Node) clientSlotDone(remote net.Addr) {
	n.conns.Add(-1)
	if n.cfg.MaxConnsPerIP > 0 {
		k := clientKey(remote)
		n.abuse.mu.Lock()
		if n.abuse.ipConns[k]--; n.abuse.ipConns[k] <= 0 {
			delete(n.abuse.ipConns, k)
		}
		n.abuse.mu.Unlock()
	}
}

// connDone gives back the slot of a connection from remote that ended.
func (n *Node) connDone(remote net.Addr) {
	s := &n.slots
	s.mu.Lock()
	k := remote.String()
	hs := s.held[k]
	if len(hs) == 0 { // not taken through takeSlot: a client slot by the old rule
		s.mu.Unlock()
		n.clientSlotDone(remote)
		return
	}
	h := hs[len(hs)-1]
	if len(hs) == 1 {
		delete(s.held, k)
	} else {
		s.held[k] = hs[:len(hs)-1]
	}
	switch h.kind {
	case slotTrial:
		s.trials--
		s.dropTrialIP(remote)
	case slotNeighbour:
		s.neighbours--
	}
	s.mu.Unlock()
	if h.kind == slotClient {
		n.clientSlotDone(remote)
	}
}

func (s *slots) dropTrialIP(remote net.Addr) {
	ip := clientKey(remote)
	if s.trialIP[ip]--; s.trialIP[ip] <= 0 {
		delete(s.trialIP, ip)
	}
}

// proveSlot runs once an inbound connection's handshake is done and its key fp known: a
// neighbour slot on trial stays only for a listed key (false: refuse the connection, counted),
// and a listed neighbour in a client slot moves to a neighbour slot when one is free.
func (n *Node) proveSlot(remote net.Addr, fp string) bool {
	s := &n.slots
	k := remote.String()
	s.mu.Lock()
	i := s.find(k, slotTrial)
	if i < 0 {
		i = s.find(k, slotClient)
	}
	s.mu.Unlock()
	if i < 0 {
		return true
	}
	listed := n.isListedKey(fp)
	s.mu.Lock()
	if i = s.find(k, slotTrial); i >= 0 {
		if !listed {
			reason := s.held[k][i].reason
			s.mu.Unlock()
			n.refuseSlot(reason) // connDone gives the trial back
			return false
		}
		s.held[k][i].kind = slotNeighbour
		s.trials--
		s.dropTrialIP(remote)
		s.neighbours++
		s.mu.Unlock()
		return true
	}
	moved := false
	if i = s.find(k, slotClient); i >= 0 && listed && s.trials+s.neighbours < n.cfg.NeighbourSlots {
		s.held[k][i].kind = slotNeighbour
		s.neighbours++
		moved = true
	}
	s.mu.Unlock()
	if moved {
		n.clientSlotDone(remote)
	}
	return true
}

func (s *slots) find(k string, kind slotKind) int {
	for i, h := range s.held[k] {
		if h.kind == kind {
			return i
		}
	}
	return -1
}
