package socketio

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

// client is the Socket.IO state of one Engine.IO connection: its sockets
// (one per namespace) and the reassembly of binary packets.
type client struct {
	srv  *Server
	conn *engineio.Conn

	mu        sync.Mutex
	sockets   []*Socket // one per namespace joined: few, so no map
	connected bool      // joined a namespace at least once
	timer     *time.Timer

	// Only touched by inbound delivery, which engineio serialises.
	pending      *packet
	attachments  [][]byte
	pendingBytes int64 // in attachments
}

// serveConn is the engineio OnConnection hook. Until a connection joins a
// namespace it counts against MaxUnauthenticated; past that it is refused.
func (s *Server) serveConn(c *engineio.Conn) {
	if s.unauthenticated.Add(1) > int64(s.maxUnauthenticated) {
		s.unauthenticated.Add(-1)
		s.log.Warn("socketio: too many connections that have not joined a namespace; refusing",
			"limit", s.maxUnauthenticated, "remote", c.Request().RemoteAddr)
		c.Terminate(engineio.ReasonForcedClose)
		return
	}
	cl := &client{srv: s, conn: c}
	cl.timer = time.AfterFunc(s.connectTimeout, cl.connectTimeout)
	c.OnMessage(cl.onMessage)
	c.OnClose(cl.onClose)
}

// stopTimer ends the connect timeout and lets the timer go: the
// connection lives on without it. Called with cl.mu held.
func (cl *client) stopTimer() {
	if cl.timer != nil {
		cl.timer.Stop()
		cl.timer = nil
	}
}

func (cl *client) connectTimeout() {
	cl.mu.Lock()
	connected := cl.connected
	cl.mu.Unlock()
	if !connected {
		cl.conn.Terminate(engineio.ReasonForcedClose)
	}
}

func (cl *client) onMessage(m engineio.Message) {
	if m.Binary {
		if cl.pending == nil {
			cl.protocolError(errors.New("unexpected binary message"))
			return
		}
		cl.pendingBytes += int64(len(m.Data))
		if cl.pendingBytes > cl.srv.maxPayload {
			cl.protocolError(errors.New("attachments exceed the payload limit"))
			return
		}
		cl.attachments = append(cl.attachments, m.Data)
		if len(cl.attachments) < cl.pending.attachments {
			return
		}
		p, att := cl.pending, cl.attachments
		cl.pending, cl.attachments, cl.pendingBytes = nil, nil, 0
		cl.dispatch(p, att)
		return
	}
	if cl.pending != nil {
		cl.protocolError(errors.New("text message while awaiting attachments"))
		return
	}
	p, err := decodePacket(m.Data)
	if err != nil {
		cl.protocolError(err)
		return
	}
	if p.attachments > 0 {
		// Attachments are held until the last one arrives: only for a
		// namespace the client has joined, so an unauthenticated client
		// cannot make the server hold anything.
		if cl.socket(p.nsp) == nil {
			cl.protocolError(errors.New("binary packet before CONNECT"))
			return
		}
		cl.pending = &p
		return
	}
	cl.dispatch(&p, nil)
}

// protocolError ends this connection only.
func (cl *client) protocolError(err error) {
	cl.srv.log.Debug("socketio: protocol error", "sid", cl.conn.ID(), "err", err)
	cl.conn.Terminate(engineio.ReasonParseError)
}

func (cl *client) dispatch(p *packet, att [][]byte) {
	switch p.typ {
	case packetConnect:
		cl.connect(p)
	case packetDisconnect:
		if s := cl.socket(p.nsp); s != nil {
			s.close(ReasonClientDisconnect)
		}
	case packetEvent, packetBinaryEvent:
		s := cl.socket(p.nsp)
		if s == nil {
			return // not (or no longer) in that namespace
		}
		var event string
		if err := json.Unmarshal(p.args[0], &event); err != nil {
			cl.protocolError(err)
			return
		}
		var ack AckFunc
		if p.id != noAck {
			ack = s.ackFunc(p.id)
		}
		s.dispatch(event, &Message{Args: p.args[1:], Attachments: att}, ack)
	case packetAck, packetBinaryAck:
		if s := cl.socket(p.nsp); s != nil {
			s.resolveAck(p.id, &Message{Args: p.args, Attachments: att})
		}
	}
}

func (cl *client) socket(nsp string) *Socket {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, s := range cl.sockets {
		if s.ns.name == nsp {
			return s
		}
	}
	return nil
}

// connect admits the client to a namespace.
func (cl *client) connect(p *packet) {
	ns := cl.srv.namespace(p.nsp)
	if ns == nil {
		cl.sendConnectError(p.nsp, &ConnectError{Message: "Invalid namespace"})
		return
	}
	if old := cl.socket(p.nsp); old != nil {
		// A repeated CONNECT gets the same answer again.
		_ = cl.conn.SendBuffers(encodeControl(packetConnect, p.nsp, old.connectPayload()))
		return
	}
	s := &Socket{
		id:        newSocketID(),
		ns:        ns,
		cl:        cl,
		hs:        newHandshake(cl.conn.Request(), p.data),
		done:      make(chan struct{}),
		connected: true,
	}
	if err := ns.admit(s, s.hs.Auth); err != nil {
		cl.sendConnectError(p.nsp, err)
		return
	}
	cl.mu.Lock()
	cl.sockets = append(cl.sockets, s)
	if !cl.connected {
		cl.connected = true
		cl.srv.unauthenticated.Add(-1)
	}
	cl.stopTimer()
	cl.mu.Unlock()
	// CONNECT goes out before the socket is visible to broadcasts, so the
	// client never sees an event for a namespace it has not joined yet.
	if err := cl.conn.SendBuffers(encodeControl(packetConnect, p.nsp, s.connectPayload())); err != nil {
		cl.forget(s)
		return
	}
	ns.add(s)
	for _, h := range ns.connectionHandlers() {
		h(s)
	}
}

func (cl *client) sendConnectError(nsp string, err error) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Message: err.Error()}
	var ce *ConnectError
	if errors.As(err, &ce) {
		body.Data = ce.Data
	}
	payload, mErr := json.Marshal(body)
	if mErr != nil {
		payload, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{err.Error()})
	}
	_ = cl.conn.SendBuffers(encodeControl(packetConnectError, nsp, payload))
}

// forget drops a disconnected socket from the connection.
func (cl *client) forget(s *Socket) {
	cl.mu.Lock()
	if i := slices.Index(cl.sockets, s); i >= 0 {
		cl.sockets = slices.Delete(cl.sockets, i, i+1)
	}
	cl.mu.Unlock()
}

// onClose disconnects every socket of the connection.
func (cl *client) onClose(reason string) {
	cl.mu.Lock()
	cl.stopTimer()
	if !cl.connected {
		cl.connected = true // stops counting it
		cl.srv.unauthenticated.Add(-1)
	}
	sockets := slices.Clone(cl.sockets)
	cl.mu.Unlock()
	for _, s := range sockets {
		s.close(reason)
	}
}
