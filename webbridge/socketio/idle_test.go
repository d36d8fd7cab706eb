package socketio

import (
	"runtime"
	"slices"
	"testing"
)

// What each socket keeps of its connection's set-up: the auth payload is a
// copy, not a window on the whole inbound message (read into a buffer of
// 512 bytes at least); the query is parsed when asked for.
func TestHandshakeKeepsLittle(t *testing.T) {
	srv := &Server{}
	socks := make(chan *Socket, 1)
	srv.Of("/").OnConnection(func(s *Socket) { socks <- s })
	ts := newTestServer(t, srv)
	c := dial(t, ts)
	c.send(`40{"token":"abc"}`)
	c.read()
	s := waitChan(t, socks, "the socket")
	hs := s.Handshake()
	if string(hs.Auth) != `{"token":"abc"}` {
		t.Fatalf("auth %s", hs.Auth)
	}
	if cap(hs.Auth) > 32 {
		t.Fatalf("the auth payload holds on to %d bytes", cap(hs.Auth))
	}
	if q := hs.Query(); q.Get("EIO") != "4" || q.Get("transport") != "websocket" {
		t.Fatalf("query %v", q)
	}
	if hs.Header.Get("Sec-WebSocket-Key") != "" || hs.Header.Get("User-Agent") == "" {
		t.Fatalf("headers %v: want the client's, not the upgrade's", hs.Header)
	}
}

// A socket's own room is found through the socket, not kept as a room of
// one: no map per socket. It behaves as a room all the same.
func TestOwnRoom(t *testing.T) {
	srv := &Server{}
	socks := make(chan *Socket, 1)
	ns := srv.Of("/")
	ns.OnConnection(func(s *Socket) { socks <- s })
	ts := newTestServer(t, srv)
	a, b := dial(t, ts), dial(t, ts)
	a.connect("/")
	sa := waitChan(t, socks, "socket a")
	b.connect("/")
	sb := waitChan(t, socks, "socket b")

	ns.mu.RLock()
	rooms := len(ns.rooms)
	ns.mu.RUnlock()
	if rooms != 0 {
		t.Fatalf("%d rooms kept for two sockets that joined none", rooms)
	}
	if got := sa.Rooms(); !slices.Equal(got, []string{sa.ID()}) {
		t.Fatalf("rooms %v", got)
	}
	if err := ns.To(sa.ID()).Emit("hi", 1); err != nil {
		t.Fatal(err)
	}
	a.expect(`42["hi",1]`)
	// b joins a's room by name: the room is both of them.
	sb.Join(sa.ID())
	if got := ns.To(sa.ID()).Sockets(); len(got) != 2 {
		t.Fatalf("%d sockets in a's room, want 2", len(got))
	}
	if got := ns.Except(sa.ID()).Sockets(); len(got) != 0 {
		t.Fatalf("%d sockets outside a's room, want 0", len(got))
	}
	sb.Leave(sa.ID())
	sa.Leave(sa.ID())
	if got := ns.To(sa.ID()).Sockets(); len(got) != 0 {
		t.Fatalf("%d sockets in a room both left", len(got))
	}
	if got := sa.Rooms(); len(got) != 0 {
		t.Fatalf("rooms %v after leaving its own", got)
	}
	sa.Join(sa.ID())
	if err := ns.Except(sb.ID()).Emit("back", 2); err != nil {
		t.Fatal(err)
	}
	a.expect(`42["back",2]`)
	b.send("41")
	waitChan(t, sb.Done(), "b to disconnect")
	if got := sb.Rooms(); len(got) != 0 {
		t.Fatalf("rooms %v after disconnecting", got)
	}
	if got := ns.To(sb.ID()).Sockets(); len(got) != 0 {
		t.Fatal("a disconnected socket is still in its room")
	}
}

// Values set on a socket (the bridge sets one, its client) cost a slot
// each, not a table.
func TestSocketValuesSmall(t *testing.T) {
	const n = 1000
	socks := make([]Socket, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range socks {
		socks[i].Set("client", i)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 64 {
		t.Fatalf("Set allocated %d bytes per socket, want at most 64", per)
	}
	socks[7].Set("client", "x")
	socks[7].Set("other", 3)
	if socks[7].Get("client") != "x" || socks[7].Get("other") != 3 || socks[7].Get("none") != nil || socks[8].Get("client") != 8 {
		t.Fatal("values mixed up")
	}
}
