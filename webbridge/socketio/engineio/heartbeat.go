package engineio

import "time"

// The server drives the heartbeat: it sends a ping in the priority lane
// every PingInterval, on a fixed cadence so that latency does not stretch
// the schedule, and closes the connection when a pong is more than
// PingTimeout late.

func (c *Conn) sendPing() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	if c.nextPing.IsZero() {
		c.nextPing = now
	}
	c.nextPing = c.nextPing.Add(c.srv.cfg.pingInterval)
	if c.nextPing.Before(now) {
		c.nextPing = now.Add(c.srv.cfg.pingInterval) // fell behind: do not burst
	}
	c.pingTimer.Reset(c.nextPing.Sub(now))
	if c.awaitingPong {
		// The previous ping is still unanswered; its timeout decides.
		c.mu.Unlock()
		return
	}
	c.awaitingPong = true
	c.pingSent = now
	c.pongDeadline = now.Add(c.srv.cfg.pingTimeout)
	c.pingSeq++
	seq := c.pingSeq
	// A fresh timer per ping means a stale one can never close the
	// connection for a ping already answered (it checks seq).
	c.pongTimer = time.AfterFunc(c.srv.cfg.pingTimeout, func() { c.pongTimeout(seq) })
	c.mu.Unlock()
	c.q.pushCtrl(pingPacket)
}

func (c *Conn) pongTimeout(seq uint64) {
	c.mu.Lock()
	expired := !c.closed && c.awaitingPong && c.pingSeq == seq
	c.mu.Unlock()
	if expired {
		c.close(ReasonPingTimeout, false, closePacket)
	}
}

func (c *Conn) onPong() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.awaitingPong || c.closed {
		return
	}
	c.awaitingPong = false
	c.rtt = time.Since(c.pingSent)
	c.pongTimer.Stop()
}

// overdue closes the connection if its pong deadline has passed even though
// the timer has not fired yet, so that a request arriving after the
// deadline never revives a session that is already dead.
func (c *Conn) overdue() bool {
	c.mu.Lock()
	late := !c.closed && c.awaitingPong && !time.Now().Before(c.pongDeadline)
	c.mu.Unlock()
	if late {
		c.close(ReasonPingTimeout, false, closePacket)
	}
	return late
}
