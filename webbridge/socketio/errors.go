package socketio

import (
	"errors"
	"strings"

	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

var (
	// ErrQueueFull means the client's outbound queue is full: it is not
	// keeping up. It is the same value as engineio.ErrQueueFull.
	ErrQueueFull = engineio.ErrQueueFull
	// ErrDisconnected is returned when emitting on a disconnected socket and
	// by EmitWithAck when the socket disconnects before the ack arrives.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrAckSent is returned by an AckFunc called more than once.
	ErrAckSent = errors.New("socketio: ack already sent")
	// ErrReservedEvent is returned when emitting an event name the client
	// reserves for itself (connect, disconnect, ...).
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrEmptyEvent is returned when emitting an event without a name.
	ErrEmptyEvent = errors.New("socketio: empty event name")
)

// ConnectError is returned by a middleware to refuse a connection with a
// message and optional data; the client receives both in connect_error. Any
// other error refuses with its Error() text.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// DropError reports a room broadcast that skipped sockets whose queues were
// full. errors.Is(err, ErrQueueFull) holds.
type DropError struct {
	// SocketIDs are the sockets that did not get the message.
	SocketIDs []string
}

func (e *DropError) Error() string {
	return "socketio: broadcast dropped for " + strings.Join(e.SocketIDs, ", ")
}

func (e *DropError) Unwrap() error { return ErrQueueFull }

// reservedEvents are names socket.io-client handles itself.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

func checkEvent(event string) error {
	if event == "" {
		return ErrEmptyEvent
	}
	if reservedEvents[event] {
		return ErrReservedEvent
	}
	return nil
}

// Disconnect reasons passed to OnDisconnect handlers, besides the engineio
// Reason constants ("transport close", "ping timeout", "parse error", ...).
const (
	ReasonServerDisconnect = "server namespace disconnect"
	ReasonClientDisconnect = "client namespace disconnect"
)
