package engineio

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// upgradeGrace is how long a poll waits, once the probe has succeeded, for
// an upgrade packet that may already be in flight before it answers noop.
const upgradeGrace = 20 * time.Millisecond

// openPolling answers a polling handshake with the open packet.
func (s *Server) openPolling(w http.ResponseWriter, r *http.Request) {
	c := s.newConn(r, transportPolling)
	open := s.openPacket(c.id, []string{transportWebSocket})
	if !c.start() {
		http.Error(w, "connection refused", http.StatusServiceUnavailable)
		return
	}
	c.writePayload(w, open)
	c.awaitNextPoll()
}

// awaitNextPoll arms the poll grace once a GET (or the handshake) has been
// answered: the client sends its next GET as soon as it has read the answer,
// so one that does not come has vanished without a close packet.
func (c *Conn) awaitNextPoll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.transport != transportPolling || c.getActive {
		return
	}
	if c.pollTimer != nil {
		c.pollTimer.Stop()
	}
	c.pollTimer = time.AfterFunc(c.srv.cfg.pollGrace, c.pollTimeout)
}

func (c *Conn) pollTimeout() {
	c.mu.Lock()
	if c.closed || c.transport != transportPolling || c.getActive {
		c.mu.Unlock()
		return
	}
	if c.probing || c.upgrading {
		// The client pauses polling while it upgrades; if the probe
		// fails, polling resumes, so look again later.
		c.pollTimer = time.AfterFunc(c.srv.cfg.pollGrace, c.pollTimeout)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.close(ReasonPollTimeout, false, closePacket)
}

// servePoll is a long-polling GET: it waits until something is queued, then
// answers with every queued packet (control ones first) joined by the
// record separator.
func (c *Conn) servePoll(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	switch {
	case c.closed && c.lingering:
		c.lingering = false
		final := c.final
		c.mu.Unlock()
		c.srv.unregister(c)
		c.writePayload(w, final)
		return
	case c.closed:
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	case c.transport != transportPolling:
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	case c.getActive:
		// Two GETs at once mean a confused or malicious client; the
		// reference implementation closes the session too.
		c.mu.Unlock()
		c.close(ReasonParseError, false, closePacket)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	c.getActive = true
	if c.pollTimer != nil {
		c.pollTimer.Stop()
	}
	c.mu.Unlock()
	payload, stale, gone := c.awaitPoll(r)
	// The poll is over before its answer goes out: a client may send the
	// next one, on another connection, the moment it has read this one, and
	// that must not look like two at once. An answer larger than the
	// server's write buffer reaches the client before the handler returns.
	c.mu.Lock()
	c.getActive = false
	c.mu.Unlock()
	switch {
	case gone:
	case stale:
		writeError(w, http.StatusBadRequest, codeBadRequest)
	default:
		c.writePayload(w, payload)
		c.awaitNextPoll()
	}
}

// awaitPoll waits until a poll has something to answer and returns it. A
// stale poll (the client has upgraded) gets an error instead; a client that
// has gone, nothing.
func (c *Conn) awaitPoll(r *http.Request) (payload []byte, stale, gone bool) {
	max := int(c.srv.cfg.maxPayload)
	var grace <-chan time.Time
	graceOver := false
	for {
		c.mu.Lock()
		upgraded := c.transport != transportPolling
		upgrading := c.upgrading
		closed, final := c.closed, c.final
		c.mu.Unlock()
		if !closed && upgraded {
			// The client switched while still polling: this poll is stale.
			c.q.signal() // pass on any wake-up meant for the new writer
			return nil, true, false
		}
		if !closed && upgrading {
			// The probe succeeded: end this poll with a noop so the client
			// can complete the upgrade. Wait a moment first, in case the
			// upgrade packet is already on its way and this poll is stale.
			if graceOver {
				return noopPacket, false, false
			}
			if grace == nil {
				t := time.NewTimer(upgradeGrace)
				defer t.Stop()
				grace = t.C
			}
		} else {
			payload, n := c.q.appendPayload(nil, max)
			if closed {
				if n > 0 {
					payload = append(payload, recordSeparator)
				}
				return append(payload, final...), false, false
			}
			if n > 0 {
				return payload, false, false
			}
		}
		select {
		case <-c.q.wake:
		case <-grace:
			graceOver = true
		case <-c.done:
		case <-r.Context().Done():
			// The client gave up on the poll: it is gone.
			c.close(ReasonTransportClose, false, closePacket)
			return nil, false, true
		}
	}
}

func (c *Conn) writePayload(w http.ResponseWriter, payload []byte) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(c.srv.cfg.writeTimeout))
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(payload)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(payload)
}

// serveData is a polling POST carrying one or more packets.
func (c *Conn) serveData(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	case c.transport != transportPolling:
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	case c.postActive:
		c.mu.Unlock()
		c.close(ReasonParseError, false, closePacket)
		writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	c.postActive = true
	c.mu.Unlock()
	reply := c.takeData(r)
	// As with polls: the client may send the next POST once it has the
	// answer.
	c.mu.Lock()
	c.postActive = false
	c.mu.Unlock()
	reply(w)
}

// takeData reads and handles a POST's packets and returns its answer.
func (c *Conn) takeData(r *http.Request) func(http.ResponseWriter) {
	max := c.srv.cfg.maxPayload
	tooLarge := func(w http.ResponseWriter) {
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
	}
	if r.ContentLength > max {
		c.close(ReasonParseError, false, closePacket)
		return tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		c.close(ReasonTransportError, false, closePacket)
		return func(w http.ResponseWriter) { http.Error(w, "read error", http.StatusBadRequest) }
	}
	if int64(len(body)) > max {
		c.close(ReasonParseError, false, closePacket)
		return tooLarge
	}
	packets, err := decodePayload(body)
	if err != nil {
		c.srv.cfg.log.Debug("engineio: bad polling payload", "sid", c.id, "err", err)
		c.close(ReasonParseError, false, closePacket)
		return func(w http.ResponseWriter) { writeError(w, http.StatusBadRequest, codeBadRequest) }
	}
	for _, p := range packets {
		if !c.handlePacket(p) {
			break
		}
	}
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "ok")
	}
}
