package sessions

import (
	"math"
	"time"
)

// The pacing rule: the shell runs at the pace of the fastest attached
// client that is reading. The pump reads the PTY only while some client
// that sets the pace has less than highWater queued; when every one of them
// is over it, the pump waits and the kernel's PTY buffer holds the shell,
// as behind a slow OpenSSH client. A client behind the fastest by more than
// its queue is dropped to a repaint (Attachment.push), so neither the shell
// nor the fastest client ever waits for it.
//
// A client sets the pace unless it is waiting for a repaint (new or fallen
// behind) or has stalled: its queue holds output and its reader has not
// come to Next for Config.StallTimeout (a closed laptop lid, a dead TCP
// path). A stalled client is marked lagging, so the shell runs free, and it
// gets a repaint when it comes back. With no client setting the pace the
// shell runs free into the ring.

// highWater is the queue at which a client no longer lets the pump read:
// half the queue, so the transport has plenty to send while the pump and
// the shell wake up again, and the other half is the slack a slower client
// has behind the fastest one.
func (s *Session) highWater() int { return max(s.m.cfg.QueueBytes/2, 1) }

// lowWater is the queue below which a reader wakes a waiting pump: room for
// two full reads, so the pump reads a few times per wake-up, and the client
// still has most of a high-water mark to send meanwhile.
func (s *Session) lowWater() int {
	hw := s.highWater()
	return max(hw-2*readBufSize, hw/2, 1)
}

// paceSlack is the most one pass of the pump adds to a queue: a read and
// what the query filter held back from the previous one.
const paceSlack = readBufSize + maxStringLen + maxCSILen

// pace holds the pump while every client that sets the pace is over its
// high-water mark, and reports whether it did; it returns at once in the
// common case.
func (s *Session) pace() bool {
	if s.gate.requested() {
		return false // frozen for a hand-over first (see pumpGate)
	}
	if hold, _ := s.paceCheck(time.Now()); !hold {
		return false
	}
	start := time.Now()
	s.pausedAt.Store(start.UnixNano())
	s.paused.Store(true)
	var t *time.Timer
	for !s.free.Load() && !s.gate.requested() {
		// Checked again after paused is set: a reader that drained in
		// between has seen it and left a wake-up in unpause.
		hold, wait := s.paceCheck(time.Now())
		if !hold {
			break
		}
		if t == nil {
			t = time.NewTimer(wait)
		} else {
			t.Reset(wait)
		}
		select {
		case <-s.unpause:
		case <-t.C: // a client may have stalled
		}
	}
	if t != nil {
		t.Stop()
	}
	s.paused.Store(false)
	s.pausedAt.Store(0)
	s.pausedNanos.Add(int64(time.Since(start)))
	return true
}

// paceCheck reports whether the pump must wait, and until when at most:
// the moment the first client holding it would count as stalled. Clients
// that have stalled are marked lagging on the way.
func (s *Session) paceCheck(now time.Time) (hold bool, wait time.Duration) {
	if s.free.Load() {
		return false, 0
	}
	hw := s.highWater()
	stall := int64(s.m.cfg.StallTimeout)
	n := now.UnixNano()
	until := int64(math.MaxInt64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.atts {
		a.mu.Lock()
		if a.closed || a.repaint {
			a.mu.Unlock()
			continue
		}
		if len(a.buf)-a.head < hw {
			a.mu.Unlock()
			return false, 0
		}
		if stall > 0 && n-a.since >= stall {
			a.fallBehind()
			lags, id := a.lags, a.id
			a.mu.Unlock()
			a.wake()
			s.log.Info("client stalled; the shell no longer waits for it", "client", id, "lags", lags)
			continue
		}
		if stall > 0 {
			until = min(until, a.since+stall)
		}
		a.mu.Unlock()
		hold = true
	}
	if !hold {
		return false, 0
	}
	return true, time.Duration(max(until-n, int64(time.Millisecond)))
}

// resume wakes the pump if it waits for a client.
func (s *Session) resume() {
	if !s.paused.Load() {
		return
	}
	select {
	case s.unpause <- struct{}{}:
	default:
	}
}

// unpace ends pacing for good: the terminal is about to close under the
// pump, or the server is going away.
func (s *Session) unpace() {
	s.free.Store(true)
	select {
	case s.unpause <- struct{}{}:
	default:
	}
}

// pausedTotal is how long the pump has waited for clients so far.
func (s *Session) pausedTotal(now time.Time) time.Duration {
	d := s.pausedNanos.Load()
	if at := s.pausedAt.Load(); at != 0 {
		d += max(now.UnixNano()-at, 0)
	}
	return time.Duration(d)
}
