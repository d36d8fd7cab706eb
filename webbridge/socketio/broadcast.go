package socketio

import (
	"errors"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

// Broadcast selects sockets of a namespace by room. It is immutable: To and
// Except return new values.
type Broadcast struct {
	ns     *Namespace
	rooms  []string
	except []string
}

// To adds room to the targets (the union of all To rooms; with none, every
// socket of the namespace).
func (b *Broadcast) To(room string) *Broadcast {
	c := *b
	c.rooms = append(append([]string(nil), b.rooms...), room)
	return &c
}

// Except removes the sockets in room from the targets.
func (b *Broadcast) Except(room string) *Broadcast {
	c := *b
	c.except = append(append([]string(nil), b.except...), room)
	return &c
}

// Emit encodes the event once and queues it on every target without
// blocking. Sockets whose queue is full are skipped and reported in a
// *DropError (errors.Is(err, ErrQueueFull)); sockets that close meanwhile
// are ignored.
func (b *Broadcast) Emit(event string, args ...any) error {
	if err := checkEvent(event); err != nil {
		return err
	}
	targets := b.targets()
	if len(targets) == 0 {
		return nil
	}
	bufs, err := encodePacket(packetEvent, b.ns.name, noAck, event, args)
	if err != nil {
		return err
	}
	defer releaseAll(bufs)
	var dropped []string
	for _, s := range targets {
		for _, buf := range bufs {
			buf.Retain()
		}
		if err := s.cl.conn.SendBuffers(bufs...); errors.Is(err, engineio.ErrQueueFull) {
			dropped = append(dropped, s.id)
		}
	}
	if dropped != nil {
		return &DropError{SocketIDs: dropped}
	}
	return nil
}

// Sockets returns the sockets the broadcast currently selects, for a
// caller that sends each its own message.
func (b *Broadcast) Sockets() []*Socket { return b.targets() }

func (b *Broadcast) targets() []*Socket {
	n := b.ns
	n.mu.RLock()
	defer n.mu.RUnlock()
	excluded := func(s *Socket) bool {
		for _, r := range b.except {
			if s.inRoomLocked(r) {
				return true
			}
		}
		return false
	}
	var out []*Socket
	if len(b.rooms) == 0 {
		for _, s := range n.sockets {
			if !excluded(s) {
				out = append(out, s)
			}
		}
		return out
	}
	seen := make(map[*Socket]struct{})
	add := func(s *Socket) {
		if _, dup := seen[s]; dup || excluded(s) {
			return
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	for _, r := range b.rooms {
		if s := n.sockets[r]; s != nil && s.ownRoom {
			add(s)
		}
		for s := range n.rooms[r] {
			add(s)
		}
	}
	return out
}
