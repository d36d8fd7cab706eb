// Command conformance-server serves the endpoints the official Engine.IO
// and Socket.IO protocol test suites expect on localhost:3000: an Engine.IO
// echo at /engine.io/ and Socket.IO at /socket.io/ (namespaces "/" and
// "/custom").
package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/codeterm/codeterm/webbridge/socketio"
	"github.com/codeterm/codeterm/webbridge/socketio/engineio"
)

// Timings the suites assert on.
const (
	pingInterval   = 300 * time.Millisecond
	pingTimeout    = 200 * time.Millisecond
	connectTimeout = time.Second
	maxPayload     = 1_000_000
)

func main() {
	eio := &engineio.Server{PingInterval: pingInterval, PingTimeout: pingTimeout, MaxPayload: maxPayload}
	eio.OnConnection = func(c *engineio.Conn) {
		c.OnMessage(func(m engineio.Message) { _ = c.Send(m) })
	}

	sio := &socketio.Server{
		PingInterval: pingInterval, PingTimeout: pingTimeout,
		ConnectTimeout: connectTimeout, MaxPayload: maxPayload,
	}
	echo := func(s *socketio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		s.On("message", func(s *socketio.Socket, m *socketio.Message, _ socketio.AckFunc) {
			_ = s.Emit("message-back", m.Values()...)
		})
		s.On("message-with-ack", func(_ *socketio.Socket, m *socketio.Message, ack socketio.AckFunc) {
			if ack != nil {
				_ = ack(m.Values()...)
			}
		})
	}
	sio.Of("/").OnConnection(echo)
	sio.Of("/custom").OnConnection(echo)

	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	mux.Handle("/socket.io/", sio)

	errc := make(chan error, 2)
	for _, addr := range []string{"127.0.0.1:3000", "[::1]:3000"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			slog.Error("listen", "addr", addr, "err", err)
			os.Exit(1)
		}
		slog.Info("conformance server listening", "addr", addr)
		go func() { errc <- http.Serve(ln, mux) }()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
