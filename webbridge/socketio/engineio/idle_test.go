package engineio

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// rawClient is the least a websocket client can be, so that what an idle
// connection costs the server can be measured in this process: a TCP
// connection that did the upgrade and has read the open packet.
func rawClient(t *testing.T, ts *httptest.Server) {
	t.Helper()
	nc, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: idle-test\r\n\r\n", ts.Listener.Addr())
	_ = nc.SetReadDeadline(time.Now().Add(testTimeout))
	br := bufio.NewReaderSize(nc, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	// The open packet: a frame header of two bytes, then "0{...}".
	h := make([]byte, 2)
	if _, err := br.Read(h[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := br.Read(h[1:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, h[1]&0x7f)
	for got := 0; got < len(body); {
		n, err := br.Read(body[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if !strings.HasPrefix(string(body), "0{") {
		t.Fatalf("open packet %q", body)
	}
	_ = nc.SetReadDeadline(time.Time{})
}

// What an idle websocket connection keeps on the server: its reader's
// goroutine and stack, its Conn, queue and handshake, gorilla's Conn and
// read buffer (the raw client's share, about 1 KiB, is in the heap figure
// too). With a writer goroutine per connection (its stack and frame
// scratch), a cloned request, a queue's room channel made up front and a
// frame buffer per connection it was 8.4 KiB of stack and 5.8 KiB of heap
// per connection; now 4.8 and 4.7.
func TestIdleWebSocketRetained(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 200 connections")
	}
	srv := &Server{PingInterval: time.Hour, writerGrace: time.Millisecond}
	conns := make(chan *Conn, 1)
	srv.OnConnection = func(c *Conn) {
		c.OnMessage(func(m Message) { _ = c.Send(m) })
		conns <- c
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	// One connection first, so that the server's one-off state (pools,
	// the listener's goroutines) is not counted.
	rawClient(t, ts)
	<-conns
	eventually(t, "the writer to leave", func() bool { return goroutinesIn(writeLoopFn) == 0 })

	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		rawClient(t, ts)
		<-conns
	}
	eventually(t, "the writers to leave", func() bool { return goroutinesIn(writeLoopFn) == 0 })
	runtime.GC()
	runtime.GC() // and what sync.Pools kept through the first
	runtime.ReadMemStats(&after)
	if p := os.Getenv("IDLE_HEAP_PROFILE"); p != "" {
		f, _ := os.Create(p)
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	stack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / n
	t.Logf("per idle connection: heap %.0f B, stack %.0f B", heap, stack)
	if stack > 6*1024 {
		t.Errorf("%.0f B of goroutine stack per idle connection, want at most 6 KiB (its reader's)", stack)
	}
	if heap > 5.25*1024 {
		t.Errorf("%.0f B of heap per idle connection, want at most 5.25 KiB", heap)
	}
}
