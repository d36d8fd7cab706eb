package socketio

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// terminalChunk looks like terminal output: mostly ASCII, with line ends,
// escape sequences and some UTF-8.
func terminalChunk(n int) string {
	const line = "drwxr-xr-x  2 alice staff  4096 Mar  3 12:00 \x1b[01;34mprojects\x1b[0m — ok\r\n"
	return strings.Repeat(line, n/len(line)+1)[:n]
}

func BenchmarkEmitWebsocket(b *testing.B) {
	const size = 32 << 10
	sockets := make(chan *Socket, 1)
	srv := &Server{PingInterval: time.Hour, QueueBytes: 4 << 20}
	srv.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	ts := newBenchServer(b, srv)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	if _, _, err := ws.ReadMessage(); err != nil { // open
		b.Fatal(err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("40"))
	if _, _, err := ws.ReadMessage(); err != nil { // CONNECT
		b.Fatal(err)
	}
	s := <-sockets

	received := make(chan int64, 1)
	go func() {
		var n int64
		for {
			_, r, err := ws.NextReader()
			if err != nil {
				received <- n
				return
			}
			m, _ := io.Copy(io.Discard, r)
			n += m
			if m < 10 { // the end marker
				received <- n
				return
			}
		}
	}()

	chunk := terminalChunk(size)
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.EmitContext(ctx, "output", chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.cl.conn.Send(engineioMarker()); err != nil {
		b.Fatal(err)
	}
	<-received
	b.StopTimer()
}

func BenchmarkEncodeEvent32K(b *testing.B) {
	chunk := terminalChunk(32 << 10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bufs, err := encodePacket(packetEvent, "/", noAck, "output", []any{chunk})
		if err != nil {
			b.Fatal(err)
		}
		releaseAll(bufs)
	}
}

func BenchmarkEncodeEventSmall(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bufs, _ := encodePacket(packetEvent, "/terminal", noAck, "output", []any{"a", 42})
		releaseAll(bufs)
	}
}

func BenchmarkDecodePacket(b *testing.B) {
	in := []byte(`2/terminal,17["input",{"session":"abc123","data":"ls -la\r"}]`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodePacket(in); err != nil {
			b.Fatal(err)
		}
	}
}
