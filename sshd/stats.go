package sshd

import "sync/atomic"

// Counters for monitoring, bumped with atomics and read on a scrape.

// Reasons an authentication attempt fails (each key a client offers is
// one attempt).
const (
	authUnknownKey = "unknown_key" // no user has this key
	authWrongUser  = "wrong_user"  // the key is another user's
	authHandshake  = "handshake"   // the connection ended before a user was authenticated
)

var authReasons = [...]string{authUnknownKey, authWrongUser, authHandshake}

type counters struct {
	open, total atomic.Int64
	authFailed  [len(authReasons)]atomic.Uint64
}

func (c *counters) authFailure(reason string) {
	for i, r := range authReasons {
		if r == reason {
			c.authFailed[i].Add(1)
		}
	}
}

// Stats is a snapshot of the SSH front-end's counters.
type Stats struct {
	Connections      int64 // open now
	ConnectionsTotal int64 // accepted since start
	AuthFailures     map[string]uint64
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	st := Stats{Connections: s.counters.open.Load(), ConnectionsTotal: s.counters.total.Load(), AuthFailures: map[string]uint64{}}
	for i, r := range authReasons {
		st.AuthFailures[r] = s.counters.authFailed[i].Load()
	}
	return st
}
