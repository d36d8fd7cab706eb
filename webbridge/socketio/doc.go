// Package socketio is a server implementation of the Socket.IO v5 protocol
// (socket.io-client 4.x) on top of package engineio, written for
// back-pressure control: every connection has a bounded outbound queue,
// Emit never blocks (ErrQueueFull tells the caller the client is behind) and
// EmitContext waits for room.
//
// Usage mirrors net/http:
//
//	srv := &socketio.Server{}
//	srv.Of("/").OnConnection(func(s *socketio.Socket) {
//		s.On("input", func(s *socketio.Socket, m *socketio.Message, ack socketio.AckFunc) { ... })
//	})
//	http.Handle("/socket.io/", srv)
//
// Handlers of one connection run one at a time, in arrival order, on the
// goroutine reading that connection. A handler that blocks holds up that
// connection's input (including heartbeats), so anything slow, and in
// particular EmitWithAck, belongs in its own goroutine.
package socketio
