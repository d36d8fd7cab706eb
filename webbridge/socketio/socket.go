package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

// EventHandler handles one received event. ack is nil unless the client
// asked for an acknowledgement.
type EventHandler func(s *Socket, msg *Message, ack AckFunc)

// AnyHandler handles every received event, after the event's own handlers.
type AnyHandler func(s *Socket, event string, msg *Message, ack AckFunc)

// AckFunc answers a client's acknowledgement request with args (encoded
// like Emit's). It never blocks; it may be called once, from any goroutine,
// or again after it returned ErrQueueFull.
type AckFunc func(args ...any) error

// Socket is one client's membership of one namespace. Its methods are safe
// for concurrent use.
type Socket struct {
	id   string
	ns   *Namespace
	cl   *client
	hs   *Handshake
	done chan struct{}

	mu           sync.Mutex
	connected    bool
	reason       string // why it disconnected
	handlers     map[string][]EventHandler
	anyHandlers  []AnyHandler
	onDisconnect []func(reason string)
	values       []value // few: a map would cost each socket a table
	acks         map[int64]chan *Message
	nextAck      int64

	// Guarded by ns.mu: the rooms joined by name, and whether the socket
	// is in its own room (see Namespace.rooms).
	rooms   map[string]struct{}
	ownRoom bool
}

// ID returns the socket id, unique per namespace connection. Each socket is
// in the room named after its id.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.ns }

// Handshake returns how the socket connected.
func (s *Socket) Handshake() *Handshake { return s.hs }

// Transport returns the current transport: "polling" or "websocket".
func (s *Socket) Transport() string { return s.cl.conn.Transport() }

// QueuedBytes reports the bytes waiting in the connection's outbound queue
// (shared by all namespaces of the connection).
func (s *Socket) QueuedBytes() int { return s.cl.conn.QueuedBytes() }

// PingRTT is the round-trip time of the connection's last answered
// heartbeat, 0 before the first.
func (s *Socket) PingRTT() time.Duration { return s.cl.conn.PingRTT() }

// Done is closed when the socket disconnects.
func (s *Socket) Done() <-chan struct{} { return s.done }

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Set stores an application value on the socket, such as the user.
func (s *Socket) Set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.values {
		if s.values[i].key == key {
			s.values[i].v = v
			return
		}
	}
	s.values = append(s.values, value{key, v})
}

type value struct {
	key string
	v   any
}

// Get returns a value stored with Set, or nil.
func (s *Socket) Get(key string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kv := range s.values {
		if kv.key == key {
			return kv.v
		}
	}
	return nil
}

// On adds a handler for event, for this socket alone; see Namespace.On
// for one that serves every socket.
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string][]EventHandler)
	}
	s.handlers[event] = append(s.handlers[event], h)
	s.mu.Unlock()
}

// OnAny adds a handler for every event.
func (s *Socket) OnAny(h AnyHandler) {
	s.mu.Lock()
	s.anyHandlers = append(s.anyHandlers, h)
	s.mu.Unlock()
}

// OnDisconnect adds a handler called once when the socket disconnects,
// with the reason (ReasonClientDisconnect, ReasonServerDisconnect or an
// engineio Reason). If the socket is already gone it is called at once.
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	if s.connected {
		s.onDisconnect = append(s.onDisconnect, fn)
		s.mu.Unlock()
		return
	}
	reason := s.reason
	s.mu.Unlock()
	fn(reason)
}

// Emit queues an event without blocking. It returns ErrQueueFull when the
// client is not keeping up, ErrDisconnected after disconnection.
//
// Arguments: string and Text become JSON strings, top-level []byte binary
// attachments, json.RawMessage is sent verbatim, anything else is
// marshalled with encoding/json.
func (s *Socket) Emit(event string, args ...any) error {
	bufs, err := s.encodeEvent(event, noAck, args)
	if err != nil {
		return err
	}
	return s.sendNow(bufs...)
}

// EmitContext queues an event, waiting for room in the queue until ctx is
// done or the socket disconnects.
func (s *Socket) EmitContext(ctx context.Context, event string, args ...any) error {
	return s.emitWait(ctx, event, noAck, args)
}

// EmitWithAck emits an event asking for an acknowledgement and waits for
// it until ctx is done (use context.WithTimeout for a deadline) or the
// socket disconnects. It waits for queue room like EmitContext. It must not
// run on the connection's handler goroutine (event handlers, OnConnection,
// middlewares): the ack is read there, so call it from a goroutine of its
// own.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (*Message, error) {
	ch := make(chan *Message, 1)
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return nil, ErrDisconnected
	}
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]chan *Message)
	}
	s.acks[id] = ch
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
	}

	if err := s.emitWait(ctx, event, id, args); err != nil {
		forget()
		return nil, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrDisconnected
	}
}

func (s *Socket) emitWait(ctx context.Context, event string, id int64, args []any) error {
	bufs, err := s.encodeEvent(event, id, args)
	if err != nil {
		return err
	}
	return sendErr(s.cl.conn.SendBuffersContext(ctx, bufs...))
}

func (s *Socket) encodeEvent(event string, id int64, args []any) ([]*engineio.Buffer, error) {
	if err := checkEvent(event); err != nil {
		return nil, err
	}
	if !s.Connected() {
		return nil, ErrDisconnected
	}
	return encodePacket(packetEvent, s.ns.name, id, event, args)
}

// sendNow queues on the connection without waiting for room.
func (s *Socket) sendNow(bufs ...*engineio.Buffer) error {
	return sendErr(s.cl.conn.SendBuffers(bufs...))
}

func sendErr(err error) error {
	if err == engineio.ErrClosed {
		return ErrDisconnected
	}
	return err
}

// Join adds the socket to room.
func (s *Socket) Join(room string) {
	s.ns.mu.Lock()
	if s.Connected() {
		s.ns.joinLocked(s, room)
	}
	s.ns.mu.Unlock()
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	s.ns.mu.Lock()
	s.ns.leaveLocked(s, room)
	s.ns.mu.Unlock()
}

// Rooms returns the rooms the socket is in, sorted.
func (s *Socket) Rooms() []string {
	s.ns.mu.RLock()
	out := make([]string, 0, len(s.rooms)+1)
	for r := range s.rooms {
		out = append(out, r)
	}
	if s.ownRoom {
		out = append(out, s.id)
	}
	s.ns.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Disconnect tells the client it left the namespace (it will not
// reconnect on its own) and disconnects the socket. The connection stays
// open for the client's other namespaces.
func (s *Socket) Disconnect() {
	if !s.Connected() {
		return
	}
	_ = s.cl.conn.SendBuffers(encodeControl(packetDisconnect, s.ns.name, nil))
	s.close(ReasonServerDisconnect)
}

// close disconnects the socket once, whatever the cause.
func (s *Socket) close(reason string) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	s.reason = reason
	s.acks = nil
	handlers := s.onDisconnect
	s.onDisconnect = nil
	s.mu.Unlock()

	s.ns.remove(s)
	// Done only once out of its rooms: whoever waited for it finds the
	// socket in none (Join does nothing once it is not connected).
	close(s.done)
	s.cl.forget(s)
	for _, h := range handlers {
		h(reason)
	}
}

// dispatch runs the handlers of a received event: the namespace's for the
// event, the socket's, then the namespace's and the socket's for any event.
func (s *Socket) dispatch(event string, msg *Message, ack AckFunc) {
	nsHs, nsAny := s.ns.eventHandlers(event)
	s.mu.Lock()
	hs := s.handlers[event]
	anyHs := s.anyHandlers
	s.mu.Unlock()
	for _, h := range nsHs {
		h(s, msg, ack)
	}
	for _, h := range hs {
		h(s, msg, ack)
	}
	for _, h := range nsAny {
		h(s, event, msg, ack)
	}
	for _, h := range anyHs {
		h(s, event, msg, ack)
	}
}

// ackFunc returns the AckFunc answering the client's ack id.
func (s *Socket) ackFunc(id int64) AckFunc {
	var sent atomic.Bool
	return func(args ...any) error {
		if !sent.CompareAndSwap(false, true) {
			return ErrAckSent
		}
		if !s.Connected() {
			return ErrDisconnected
		}
		bufs, err := encodePacket(packetAck, s.ns.name, id, "", args)
		if err != nil {
			return err
		}
		err = s.sendNow(bufs...)
		if errors.Is(err, ErrQueueFull) {
			sent.Store(false) // not sent: the caller may try again
		}
		return err
	}
}

// resolveAck delivers the client's answer to EmitWithAck.
func (s *Socket) resolveAck(id int64, msg *Message) {
	s.mu.Lock()
	ch := s.acks[id]
	delete(s.acks, id)
	s.mu.Unlock()
	if ch != nil {
		ch <- msg
	}
}

// connectPayload is the CONNECT answer: the socket id.
func (s *Socket) connectPayload() []byte {
	b, _ := json.Marshal(struct {
		SID string `json:"sid"`
	}{s.id})
	return b
}
