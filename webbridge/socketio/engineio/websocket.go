package engineio

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// closeGrace bounds the close handshake when a connection ends.
const closeGrace = time.Second

// openWebSocket serves a connection that starts on websocket.
func (s *Server) openWebSocket(w http.ResponseWriter, r *http.Request) {
	c := s.newConn(r, transportWebSocket)
	// The open packet must be the first thing on the wire.
	c.q.pushCtrl(s.openPacket(c.id, []string{}))
	// Started before the upgrade, so a connection the application refuses
	// gets a plain 503 and costs no websocket.
	if !c.start() {
		http.Error(w, "connection refused", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		c.close(ReasonTransportError, false, closePacket)
		return // the upgrader has answered
	}
	ws.SetReadLimit(s.cfg.maxPayload)
	if !c.acquire() {
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(closeGrace))
		_ = ws.Close()
		return
	}
	c.attachWebSocket(ws, s.EnableCompression && offersDeflate(r))
	// Read on a goroutine of its own and let the handler return: net/http
	// then lets go of the connection's write buffer and request, and of
	// this goroutine's stack, deep from the handlers in front of this
	// one, which an idle connection would otherwise keep for its life.
	go c.readLoop(ws)
}

// readLoop reads the established websocket transport until it fails or the
// connection closes (the writer closes the socket).
func (c *Conn) readLoop(ws *websocket.Conn) {
	// Pongs go through the writer: a write from here could land inside a
	// frame that a direct write left unfinished.
	ws.SetPingHandler(func(data string) error {
		c.q.pushRaw(pongFrame([]byte(data)))
		return nil
	})
	for {
		mt, data, err := c.readMessage(ws)
		if err != nil {
			reason := ReasonTransportClose
			if errors.Is(err, websocket.ErrReadLimit) || errors.Is(err, errMessageTooBig) {
				reason = ReasonParseError
			}
			c.close(reason, false, closePacket)
			return
		}
		if mt == websocket.BinaryMessage {
			c.deliver(Message{Binary: true, Data: data})
			continue
		}
		p, err := decodePacket(data)
		if err != nil {
			c.close(ReasonParseError, false, closePacket)
			return
		}
		if !c.handlePacket(p) {
			return
		}
	}
}

// errMessageTooBig is a message that inflates past MaxPayload.
var errMessageTooBig = errors.New("engineio: message too big")

// readMessage reads one whole message of at most MaxPayload bytes as the
// application sees them. gorilla's read limit counts the bytes on the wire,
// which permessage-deflate can inflate a thousandfold, and ReadMessage
// inflates without a bound; this stops inflating at the limit and closes
// with 1009 (message too big), as gorilla does past its own limit.
func (c *Conn) readMessage(ws *websocket.Conn) (int, []byte, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	max := c.srv.cfg.maxPayload
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > max {
		// The writer and direct writes take turns under d.mu; the close
		// frame must not land inside one of their frames.
		if d := c.direct.Load(); d != nil {
			d.mu.Lock()
			d.off = true // nothing after the close frame
			defer d.mu.Unlock()
		}
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(closeGrace))
		return 0, nil, errMessageTooBig
	}
	return mt, data, nil
}

// defaultWriterGrace is how long the websocket writer waits for more once the
// queue is empty before it leaves: a stream of output keeps one writer,
// instead of paying a goroutine start per message, and an idle connection
// keeps none. It leaves after one to two graces without a write.
const defaultWriterGrace = 250 * time.Millisecond

// attachWebSocket makes ws the connection's transport from now on, with a
// writer goroutine started whenever something is queued. The caller holds
// one count of c (acquire) for the socket; the writer that closes the
// socket releases it. deflate says the client negotiated
// permessage-deflate.
func (c *Conn) attachWebSocket(ws *websocket.Conn, deflate bool) {
	c.direct.Store(newDirectWriter(ws.NetConn()))
	c.q.setWriter(func() { c.writeLoop(ws, deflate) })
}

// writeLoop is the connection's only websocket writer while it runs (see
// outQueue). Between batches of data messages it always sends pending
// control packets first. It returns once the queue stays empty for the
// grace, or, when the connection ends, after the close frame.
func (c *Conn) writeLoop(ws *websocket.Conn, deflate bool) {
	// Two writers would interleave their frames on the wire: fail as
	// loudly as gorilla does on concurrent writes.
	c.enterWriter()
	d := c.direct.Load()
	timeout := c.srv.cfg.writeTimeout
	// Scratch for this run only: an idle connection keeps none of it.
	var fb frameBatch
	wrote := false
	write := func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		for {
			if p := c.q.popRaw(); p != nil {
				wrote = true
				_ = ws.NetConn().SetWriteDeadline(time.Now().Add(timeout))
				if _, err := ws.NetConn().Write(p); err != nil {
					return err
				}
				continue
			}
			if p := c.q.popCtrl(); p != nil {
				wrote = true
				_ = ws.SetWriteDeadline(time.Now().Add(timeout))
				if err := ws.WriteMessage(websocket.TextMessage, p); err != nil {
					return err
				}
				continue
			}
			fb.bufs = c.q.popDataBatch(fb.bufs[:0], batchBytes, batchFrames)
			if len(fb.bufs) == 0 {
				return nil
			}
			wrote = true
			err := c.writeBatch(ws, &fb, fb.bufs, deflate)
			clear(fb.bufs)
			if err != nil {
				return err
			}
		}
	}
	wait := c.srv.cfg.writerGrace
	grace := time.NewTimer(wait)
	defer grace.Stop()
	for {
		if err := write(); err != nil {
			c.close(ReasonTransportError, false, closePacket)
			c.q.discard()
			c.closeWebSocket(ws, d)
			return
		}
		select {
		case <-c.q.wake:
			continue
		case <-grace.C:
			if wrote {
				wrote = false
				grace.Reset(wait)
				continue
			}
			c.writing.Store(false)
			if c.q.park() {
				return
			}
			c.enterWriter()
			grace.Reset(wait)
			continue
		case <-c.done:
		}
		// Closing: whatever is still queued was meant to be flushed
		// (discarded queues are empty by now). No direct write may follow
		// the close frame (a browser fails the socket with "Data frame
		// received after close"), so they end first.
		d.stop()
		if err := write(); err == nil {
			_ = ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeGrace))
		}
		c.q.discard()
		c.closeWebSocket(ws, d)
		return
	}
}

func (c *Conn) enterWriter() {
	if !c.writing.CompareAndSwap(false, true) {
		panic("engineio: two websocket writers on one connection")
	}
}

// closeWebSocket ends the transport once its last writer is done: direct
// writes end before the socket closes.
func (c *Conn) closeWebSocket(ws *websocket.Conn, d *directWriter) {
	d.stop()
	_ = ws.Close()
	c.release()
}

// serveProbe handles a websocket opened for an existing polling session:
// "2probe" is answered with "3probe", pending polls are ended with a noop,
// and "5" switches the session to this websocket.
func (c *Conn) serveProbe(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.closed || c.transport != transportPolling || c.probing {
		c.mu.Unlock()
		// Like the reference server: accept, then close at once.
		if ws, err := c.srv.upgrader.Upgrade(w, r, nil); err == nil {
			_ = ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "session already upgraded"),
				time.Now().Add(closeGrace))
			_ = ws.Close()
		}
		return
	}
	// Reserve the probe slot before the slow upgrade.
	c.probing = true
	c.mu.Unlock()

	ws, err := c.srv.upgrader.Upgrade(w, r, nil)
	c.mu.Lock()
	if err != nil || c.closed {
		c.probing = false
		c.mu.Unlock()
		if ws != nil {
			_ = ws.Close()
		}
		return
	}
	c.probe = ws
	c.mu.Unlock()
	ws.SetReadLimit(c.srv.cfg.maxPayload)

	abort := func() {
		c.mu.Lock()
		if c.probe == ws {
			c.probe, c.probing, c.upgrading = nil, false, false
		}
		c.mu.Unlock()
		c.q.signal() // a poll waiting on the probe's outcome resumes
		_ = ws.Close()
	}
	for {
		mt, data, err := c.readMessage(ws)
		if err != nil || mt != websocket.TextMessage {
			abort()
			return
		}
		switch {
		case bytes.Equal(data, []byte("2probe")):
			// Upgrading before answering: a poll the client sends on
			// seeing "3probe" must find the session upgrading.
			c.mu.Lock()
			c.upgrading = true
			c.mu.Unlock()
			c.q.signal() // a pending GET answers with a noop
			_ = ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.writeTimeout))
			if err := ws.WriteMessage(websocket.TextMessage, []byte("3probe")); err != nil {
				abort()
				return
			}
		case len(data) == 1 && data[0] == typeUpgrade:
			c.mu.Lock()
			if c.closed || !c.upgrading {
				c.mu.Unlock()
				abort()
				return
			}
			c.transport = transportWebSocket
			c.upgrading = false
			c.probe, c.probing = nil, false
			c.holds++ // for the writer; c is open, so holds > 0
			c.mu.Unlock()
			c.attachWebSocket(ws, c.srv.EnableCompression && offersDeflate(r))
			c.readLoop(ws)
			return
		default:
			abort()
			return
		}
	}
}
