// Package engineio is a server implementation of the Engine.IO v4 protocol
// (the transport layer under Socket.IO v5), built directly on
// github.com/gorilla/websocket.
//
// It supports the websocket and HTTP long-polling transports and the
// polling→websocket upgrade. Each connection has one writer and a bounded
// outbound queue measured in bytes, so a client that cannot keep up is
// reported to the caller (ErrQueueFull) instead of growing memory or
// stalling the producer. Heartbeat packets travel in a separate priority lane
// so they are never stuck behind bulk output.
//
// Use it alone for raw messages, or through package socketio.
//
// Long-polling GETs are held open until there is something to send (at the
// latest the next ping), so an http.Server serving this handler needs a
// WriteTimeout (if any) longer than PingInterval; the handler sets its own
// write deadline on every response it writes.
package engineio
