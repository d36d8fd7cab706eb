package sessions

import "sync"

// A server mostly holds sessions nobody types in, and each would keep its
// pump's goroutine (and stack) blocked on a read that does not come. So a
// pump whose shell has been quiet for Config.PumpIdle, and that has
// nothing else to wait for (no held sequence to flush, no hand-over, no
// client to wait for), parks: it asks readyWatch to tell it when the
// terminal is next readable and ends its goroutine. The watch's call runs
// the pump again, which reads what came (or EIO once the shell is gone).
// The grace period keeps a session in use on the direct path: typing
// never waits for a goroutine to start, and the pump wakes for its idle
// deadline at most once per PumpIdle.
//
// Exactly one of these holds at any time: a pump goroutine runs; the pump
// is parked (the watch is armed); the pump has ended (pumpDone is
// closed). Whoever ends a parking, the watch's call or someone who
// cancels the watch (closeMaster, a hand-over), runs or ends the pump.

// pumpPark is a session's parking state.
type pumpPark struct {
	mu      sync.Mutex
	parked  bool  // no goroutine reads the terminal; the watch id is armed
	id      int32 // readyWatch's id for it
	closing bool  // the master is being closed: it is not watched again
}

type parkResult int

const (
	parkRefused     parkResult = iota // not now: read on
	parkDone                          // parked: the pump's goroutine ends
	parkUnavailable                   // no epoll: read on, and never park again
)

// parkPump is the pump's side: it arms the watch unless the master is
// being closed or a hand-over wants the pump (both checked under the lock
// their side takes, so neither misses a parked pump).
func (s *Session) parkPump() parkResult {
	p := &s.park
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || s.gate.requested() {
		return parkRefused
	}
	var id int32
	ok := false
	if err := s.rawMaster.Control(func(fd uintptr) { id, ok = s.m.ready.once(int(fd), s.unpark) }); err != nil {
		return parkRefused // closed: the next read says so
	}
	if !ok {
		return parkUnavailable
	}
	p.parked, p.id = true, id
	return parkDone
}

// unpark is the watch's call: the terminal is readable (output, or the
// last slave descriptor closed), so the pump runs again, on this
// goroutine.
func (s *Session) unpark() {
	p := &s.park
	p.mu.Lock()
	if !p.parked { // cannot happen: a cancelled watch is never called
		p.mu.Unlock()
		return
	}
	p.parked = false
	p.mu.Unlock()
	s.pump()
}

// takePump cancels a parked pump's watch and reports whether it did: the
// caller then runs or ends the pump. closing marks the master as about to
// be closed, so that the pump never watches it again. When the watch has
// already fired, its call is on its way and runs the pump itself.
func (s *Session) takePump(closing bool) bool {
	p := &s.park
	p.mu.Lock()
	defer p.mu.Unlock()
	if closing {
		p.closing = true
	}
	if !p.parked {
		return false
	}
	cancelled := false
	s.rawMaster.Control(func(fd uintptr) { cancelled = s.m.ready.cancel(int(fd), p.id) })
	if !cancelled {
		return false
	}
	p.parked = false
	return true
}
