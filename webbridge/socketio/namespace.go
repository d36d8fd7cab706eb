package socketio

import (
	"encoding/json"
	"sync"
)

// Middleware runs when a client asks to join a namespace, before the
// socket counts as connected. auth is the client's auth payload ({} when it
// sent none). Returning an error refuses the connection with a
// CONNECT_ERROR: a *ConnectError controls message and data, any other error
// sends {"message": err.Error()}. Middlewares run on the connection's read
// goroutine; they may set values on the socket for later handlers.
type Middleware func(s *Socket, auth json.RawMessage) error

// Namespace is a communication channel multiplexed over connections, with
// its own handlers and rooms.
type Namespace struct {
	name string
	srv  *Server

	mu           sync.RWMutex
	middlewares  []Middleware
	onConnection []func(*Socket)
	// handlers and anyHandlers serve every socket of the namespace: one
	// table for thousands of connections, where handlers registered per
	// socket cost each socket its own map and closures.
	handlers    map[string][]EventHandler
	anyHandlers []AnyHandler
	sockets     map[string]*Socket
	// rooms holds the rooms joined by name. A socket's own room (its id)
	// is not kept here but found through sockets: a map per socket for a
	// room of one.
	rooms map[string]map[*Socket]struct{}
}

func newNamespace(s *Server, name string) *Namespace {
	return &Namespace{
		name:    name,
		srv:     s,
		sockets: make(map[string]*Socket),
		rooms:   make(map[string]map[*Socket]struct{}),
	}
}

// Name returns the namespace name, such as "/" or "/admin".
func (n *Namespace) Name() string { return n.name }

// Use appends a connection middleware.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, m)
	n.mu.Unlock()
}

// OnConnection registers a handler for sockets joining the namespace. It
// runs after the client has been told it is connected; register the
// socket's event handlers here.
func (n *Namespace) OnConnection(fn func(s *Socket)) {
	n.mu.Lock()
	n.onConnection = append(n.onConnection, fn)
	n.mu.Unlock()
}

// On adds a handler for event received on any socket of the namespace. It
// runs before the handlers the socket registered itself.
func (n *Namespace) On(event string, h EventHandler) {
	n.mu.Lock()
	if n.handlers == nil {
		n.handlers = make(map[string][]EventHandler)
	}
	// A new slice: dispatch reads the old one without the lock.
	n.handlers[event] = append(n.handlers[event][:len(n.handlers[event]):len(n.handlers[event])], h)
	n.mu.Unlock()
}

// OnAny adds a handler for every event received on any socket of the
// namespace. It runs after the event's handlers and before the socket's
// own OnAny handlers.
func (n *Namespace) OnAny(h AnyHandler) {
	n.mu.Lock()
	n.anyHandlers = append(n.anyHandlers[:len(n.anyHandlers):len(n.anyHandlers)], h)
	n.mu.Unlock()
}

// eventHandlers returns the namespace's handlers for event and for any event.
func (n *Namespace) eventHandlers(event string) ([]EventHandler, []AnyHandler) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.handlers[event], n.anyHandlers
}

// Sockets returns the sockets currently connected to the namespace.
func (n *Namespace) Sockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

// To returns a broadcast to the sockets in room.
func (n *Namespace) To(room string) *Broadcast {
	return (&Broadcast{ns: n}).To(room)
}

// Except returns a broadcast to every socket not in room.
func (n *Namespace) Except(room string) *Broadcast {
	return (&Broadcast{ns: n}).Except(room)
}

// Emit broadcasts to every socket of the namespace; see Broadcast.Emit.
func (n *Namespace) Emit(event string, args ...any) error {
	return (&Broadcast{ns: n}).Emit(event, args...)
}

func (n *Namespace) admit(s *Socket, auth json.RawMessage) error {
	n.mu.RLock()
	mws := n.middlewares
	n.mu.RUnlock()
	for _, m := range mws {
		if err := m(s, auth); err != nil {
			return err
		}
	}
	return nil
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	s.ownRoom = true
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	delete(n.sockets, s.id)
	s.ownRoom = false
	for room := range s.rooms {
		n.leaveLocked(s, room)
	}
	n.mu.Unlock()
}

func (n *Namespace) connectionHandlers() []func(*Socket) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.onConnection
}

func (n *Namespace) joinLocked(s *Socket, room string) {
	if room == s.id {
		s.ownRoom = true
		return
	}
	members := n.rooms[room]
	if members == nil {
		members = make(map[*Socket]struct{})
		n.rooms[room] = members
	}
	members[s] = struct{}{}
	if s.rooms == nil {
		s.rooms = make(map[string]struct{})
	}
	s.rooms[room] = struct{}{}
}

func (n *Namespace) leaveLocked(s *Socket, room string) {
	if room == s.id {
		s.ownRoom = false
		return
	}
	if members := n.rooms[room]; members != nil {
		delete(members, s)
		if len(members) == 0 {
			delete(n.rooms, room)
		}
	}
	delete(s.rooms, room)
}

// inRoomLocked reports whether s is in room.
func (s *Socket) inRoomLocked(room string) bool {
	if room == s.id {
		return s.ownRoom
	}
	_, ok := s.rooms[room]
	return ok
}
