package socketio

import (
	"context"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

// Packet is an event encoded once, to be sent to any number of sockets of
// its namespace: a terminal's output goes to every socket attached to it,
// and encoding (escaping the string, or copying the attachment) per socket
// would cost as much as everything else on the way. Its buffers are shared,
// not copied, by each send; release it when done sending.
type Packet struct {
	nsp  string
	bufs []*engineio.Buffer
}

// EncodePacket encodes an event for the sockets of this namespace;
// arguments are as for Socket.Emit.
func (n *Namespace) EncodePacket(event string, args ...any) (*Packet, error) {
	if err := checkEvent(event); err != nil {
		return nil, err
	}
	bufs, err := encodePacket(packetEvent, n.name, noAck, event, args)
	if err != nil {
		return nil, err
	}
	return &Packet{nsp: n.name, bufs: bufs}, nil
}

// Retain takes another reference for a holder that releases it later.
func (p *Packet) Retain() { p.retain() }

// Release drops a reference to the encoded buffers.
func (p *Packet) Release() { releaseAll(p.bufs) }

// retain takes one reference per buffer for a send, which the connection
// releases once written (or dropped).
func (p *Packet) retain() []*engineio.Buffer {
	for _, b := range p.bufs {
		b.Retain()
	}
	return p.bufs
}

// SendPacket queues p like EmitContext, waiting for room until ctx is done
// or the socket disconnects.
func (s *Socket) SendPacket(ctx context.Context, p *Packet) error {
	if err := s.checkPacket(p); err != nil {
		return err
	}
	bufs := p.retain()
	if err := s.cl.conn.SendBuffersContext(ctx, bufs...); err != nil {
		return sendErr(err)
	}
	return nil
}

// TrySendPacket queues p like Emit, without waiting: ErrQueueFull when the
// client is not keeping up.
func (s *Socket) TrySendPacket(p *Packet) error {
	if err := s.checkPacket(p); err != nil {
		return err
	}
	return s.sendNow(p.retain()...)
}

func (s *Socket) checkPacket(p *Packet) error {
	if p.nsp != s.ns.name {
		panic("socketio: packet of namespace " + p.nsp + " sent on " + s.ns.name)
	}
	if !s.Connected() {
		return ErrDisconnected
	}
	return nil
}
