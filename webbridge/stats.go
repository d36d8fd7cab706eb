package webbridge

import (
	"sync"
	"sync/atomic"
)

// Counters for monitoring, bumped with atomics and read on a scrape.

// Event outcomes counted per event name.
const (
	outcomeOK          = "ok"
	outcomeError       = "error"
	outcomeRateLimited = "rate_limited"
)

var outcomes = [...]string{outcomeOK, outcomeError, outcomeRateLimited}

type eventCounts [len(outcomes)]atomic.Uint64

type bridgeCounters struct {
	connections atomic.Int64  // open Socket.IO connections
	connected   atomic.Uint64 // connections ever authenticated
	once        sync.Once
	events      map[string]*eventCounts // fixed after once: the known events and "unknown"
}

func (b *bridgeCounters) count(event, outcome string) {
	b.once.Do(func() {
		b.events = make(map[string]*eventCounts, len(knownEvents)+1)
		for name := range knownEvents {
			b.events[name] = new(eventCounts)
		}
		b.events["unknown"] = new(eventCounts)
	})
	c := b.events[event]
	if c == nil {
		c = b.events["unknown"] // names are the client's: never a label of their own
	}
	for i, o := range outcomes {
		if o == outcome {
			c[i].Add(1)
		}
	}
}

// Stats is a snapshot of the bridge's counters.
type Stats struct {
	Connections      int64  // open now
	ConnectionsTotal uint64 // since start
	// Events by [name, outcome]; outcome is "ok", "error" or
	// "rate_limited", and names the server does not know are "unknown".
	Events map[[2]string]uint64
}

// Stats returns the bridge's counters.
func (s *Server) Stats() Stats {
	b := &s.counters
	b.count("", "") // builds the map
	st := Stats{Connections: b.connections.Load(), ConnectionsTotal: b.connected.Load(), Events: map[[2]string]uint64{}}
	for name, c := range b.events {
		for i, o := range outcomes {
			if n := c[i].Load(); n > 0 {
				st.Events[[2]string{name, o}] = n
			}
		}
	}
	return st
}
