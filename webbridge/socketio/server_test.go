package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// echoServer is the behaviour the conformance suite expects, on "/" and
// "/custom".
func echoServer(t *testing.T, srv *Server) (*Server, *httptest.Server) {
	t.Helper()
	if srv == nil {
		srv = &Server{}
	}
	echo := func(s *Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		s.On("message", func(s *Socket, m *Message, _ AckFunc) { _ = s.Emit("message-back", m.Values()...) })
		s.On("message-with-ack", func(_ *Socket, m *Message, ack AckFunc) {
			if ack != nil {
				_ = ack(m.Values()...)
			}
		})
	}
	srv.Of("/").OnConnection(echo)
	srv.Of("custom").OnConnection(echo)
	return srv, newTestServer(t, srv)
}

func TestConnectNamespaces(t *testing.T) {
	_, ts := echoServer(t, nil)

	c := dial(t, ts)
	c.send(`40{"token":"123"}`)
	msg := c.read()
	var hs map[string]any
	if !strings.HasPrefix(msg, "40") || json.Unmarshal([]byte(msg[2:]), &hs) != nil || len(hs) != 1 || hs["sid"] == "" {
		t.Fatalf("CONNECT answer %q", msg)
	}
	c.expect(`42["auth",{"token":"123"}]`)

	c.send("40/custom,")
	if msg := c.read(); !strings.HasPrefix(msg, `40/custom,{"sid":"`) {
		t.Fatalf("custom CONNECT answer %q", msg)
	}
	c.expect(`42/custom,["auth",{}]`)

	c.send("40/random")
	c.expect(`44/random,{"message":"Invalid namespace"}`)

	// Leaving /custom leaves the main namespace working.
	c.send("41/custom,")
	c.send(`42["message","still here"]`)
	c.expect(`42["message-back","still here"]`)
	c.send(`42/custom,["message","gone"]`)
	c.send(`42["message","main"]`)
	c.expect(`42["message-back","main"]`)
}

func TestMessagesAndAcks(t *testing.T) {
	_, ts := echoServer(t, nil)
	c := dial(t, ts)
	c.connect("/")
	c.read() // auth

	c.send(`42["message",1,"2",{"3":[true]}]`)
	c.expect(`42["message-back",1,"2",{"3":[true]}]`)
	c.send(`42456["message-with-ack",1,"2",{"3":[false]}]`)
	c.expect(`43456[1,"2",{"3":[false]}]`)
}

func TestBinaryAttachments(t *testing.T) {
	_, ts := echoServer(t, nil)
	c := dial(t, ts)
	c.connect("/")
	c.read()

	c.send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.sendBinary([]byte{1, 2, 3})
	c.sendBinary([]byte{4, 5, 6})
	c.expect(`452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	for _, want := range []string{"\x01\x02\x03", "\x04\x05\x06"} {
		if mt, got := c.readFrame(); mt != websocket.BinaryMessage || got != want {
			t.Fatalf("attachment %d %q, want %q", mt, got, want)
		}
	}

	c.send(`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.sendBinary([]byte{1})
	c.sendBinary([]byte{2})
	c.expect(`462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.readFrame()
	c.readFrame()
}

func TestHandlerGetsBinary(t *testing.T) {
	got := make(chan []byte, 1)
	srv := &Server{}
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("upload", func(s *Socket, m *Message, _ AckFunc) {
			var b []byte
			if err := m.Decode(1, &b); err != nil {
				t.Error(err)
			}
			got <- b
		})
	})
	ts := newTestServer(t, srv)
	c := dial(t, ts)
	c.connect("/")
	c.send(`451-["upload","name.bin",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte("payload"))
	if b := waitChan(t, got, "upload"); string(b) != "payload" {
		t.Fatalf("handler got %q", b)
	}
}

func TestServerAck(t *testing.T) {
	type result struct {
		m   *Message
		err error
	}
	results := make(chan result, 2)
	srv := &Server{}
	srv.Of("/").OnConnection(func(s *Socket) {
		go func() {
			m, err := s.EmitWithAck(context.Background(), "ask", "q")
			results <- result{m, err}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			m, err = s.EmitWithAck(ctx, "ask", "unanswered")
			results <- result{m, err}
		}()
	})
	ts := newTestServer(t, srv)
	c := dial(t, ts)
	c.connect("/")
	c.expect(`420["ask","q"]`)
	c.send(`430["answer",{"n":1}]`)
	r := waitChan(t, results, "ack")
	if r.err != nil || r.m.Len() != 2 || string(r.m.Args[1]) != `{"n":1}` {
		t.Fatalf("ack = %+v, %v", r.m, r.err)
	}
	c.expect(`421["ask","unanswered"]`)
	if r := waitChan(t, results, "ack timeout"); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("unanswered ack: %v", r.err)
	}
	// A late answer is ignored.
	c.send(`431["late"]`)
}

func TestMiddleware(t *testing.T) {
	srv := &Server{}
	connected := make(chan string, 1)
	srv.Of("/").Use(func(s *Socket, auth json.RawMessage) error {
		var a struct{ Token string }
		_ = json.Unmarshal(auth, &a)
		if a.Token != "good" {
			return &ConnectError{Message: "unauthorized", Data: map[string]int{"code": 401}}
		}
		s.Set("user", "alice")
		return nil
	})
	srv.Of("/").Use(func(s *Socket, _ json.RawMessage) error {
		if s.Handshake().Query().Get("deny") != "" {
			return errors.New("denied")
		}
		return nil
	})
	srv.Of("/").OnConnection(func(s *Socket) { connected <- s.Get("user").(string) })
	ts := newTestServer(t, srv)

	c := dial(t, ts)
	c.send(`40{"token":"bad"}`)
	c.expect(`44{"message":"unauthorized","data":{"code":401}}`)
	c.send(`40{"token":"good"}`)
	if msg := c.read(); !strings.HasPrefix(msg, `40{"sid":`) {
		t.Fatalf("got %q", msg)
	}
	if u := waitChan(t, connected, "connection"); u != "alice" {
		t.Fatalf("user %q", u)
	}

	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket&deny=1"
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	c2 := &rawClient{t: t, ws: ws}
	c2.read()
	c2.send(`40{"token":"good"}`)
	c2.expect(`44{"message":"denied"}`)
}

func TestConnectTimeout(t *testing.T) {
	srv := &Server{ConnectTimeout: 30 * time.Millisecond}
	ts := newTestServer(t, srv)
	c := dial(t, ts)
	c.expectClosed()
}

func TestProtocolErrorClosesOnlyThatConnection(t *testing.T) {
	_, ts := echoServer(t, nil)
	good := dial(t, ts)
	good.connect("/")
	good.read()
	for _, bad := range []string{"4abc", "42{}", `42abc["message-with-ack",1]`, "41{}"} {
		c := dial(t, ts)
		c.connect("/")
		c.read()
		c.send(bad)
		c.expectClosed()
	}
	// An attachment without a header is an error too.
	c := dial(t, ts)
	c.connect("/")
	c.read()
	c.sendBinary([]byte{1})
	c.expectClosed()

	good.send(`42["message","ok"]`)
	good.expect(`42["message-back","ok"]`)
}

func TestDisconnect(t *testing.T) {
	reasons := make(chan string, 4)
	sockets := make(chan *Socket, 4)
	srv := &Server{}
	srv.Of("/").OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r string) { reasons <- r })
		sockets <- s
	})
	ts := newTestServer(t, srv)

	c := dial(t, ts)
	c.connect("/")
	waitChan(t, sockets, "connection")
	c.send("41")
	if r := waitChan(t, reasons, "disconnect"); r != ReasonClientDisconnect {
		t.Fatalf("reason %q", r)
	}

	c.connect("/")
	s := waitChan(t, sockets, "connection")
	s.Disconnect()
	c.expect("41")
	if r := waitChan(t, reasons, "disconnect"); r != ReasonServerDisconnect {
		t.Fatalf("reason %q", r)
	}
	if err := s.Emit("x"); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Emit after disconnect: %v", err)
	}

	c.connect("/")
	waitChan(t, sockets, "connection")
	c.ws.Close()
	if r := waitChan(t, reasons, "disconnect"); r != "transport close" {
		t.Fatalf("reason %q", r)
	}
}

func TestRooms(t *testing.T) {
	sockets := make(chan *Socket, 3)
	srv := &Server{}
	ns := srv.Of("/")
	ns.OnConnection(func(s *Socket) { sockets <- s })
	ts := newTestServer(t, srv)

	var clients []*rawClient
	var socks []*Socket
	for i := 0; i < 3; i++ {
		c := dial(t, ts)
		c.connect("/")
		clients = append(clients, c)
		socks = append(socks, waitChan(t, sockets, "connection"))
	}
	socks[0].Join("team")
	socks[1].Join("team")
	if r := socks[0].Rooms(); !slices.Equal(r, []string{socks[0].ID(), "team"}) && !slices.Equal(r, []string{"team", socks[0].ID()}) {
		t.Fatalf("rooms %v", r)
	}

	if err := ns.To("team").Emit("news", "for team"); err != nil {
		t.Fatal(err)
	}
	if err := ns.To(socks[2].ID()).Emit("news", "private"); err != nil {
		t.Fatal(err)
	}
	if err := ns.To("team").Except(socks[0].ID()).Emit("news", "not for 0"); err != nil {
		t.Fatal(err)
	}
	clients[0].expect(`42["news","for team"]`)
	clients[1].expect(`42["news","for team"]`)
	clients[1].expect(`42["news","not for 0"]`)
	clients[2].expect(`42["news","private"]`)

	socks[1].Leave("team")
	if err := ns.To("team").Emit("news", "again"); err != nil {
		t.Fatal(err)
	}
	if err := ns.Emit("all", 1); err != nil {
		t.Fatal(err)
	}
	clients[0].expect(`42["news","again"]`)
	clients[0].expect(`42["all",1]`)
	clients[1].expect(`42["all",1]`) // not "again": it left
	clients[2].expect(`42["all",1]`)
}

func TestEmitBackPressure(t *testing.T) {
	sockets := make(chan *Socket, 1)
	srv := &Server{QueueBytes: 256 << 10}
	srv.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	ts := newTestServer(t, srv)
	c := dial(t, ts)
	c.connect("/")
	s := waitChan(t, sockets, "connection")

	// The client reads nothing: kernel buffers fill, then the queue, until
	// waiting for room times out because the writer is stuck.
	chunk := strings.Repeat("x", 32<<10)
	for sent := 0; ; sent++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := s.EmitContext(ctx, "out", chunk)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent > 100_000 {
			t.Fatal("queue never filled")
		}
	}
	if err := s.Emit("out", chunk); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Emit on full queue: %v", err)
	}
	if s.QueuedBytes() == 0 {
		t.Fatal("QueuedBytes = 0 with a full queue")
	}
	// An ack refused for a full queue was not sent and may be tried again.
	acks := make(chan AckFunc, 1)
	s.On("ask", func(_ *Socket, _ *Message, ack AckFunc) { acks <- ack })
	c.send(`421["ask"]`)
	ack := waitChan(t, acks, "ask")
	if err := ack(chunk); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("ack on a full queue: %v", err)
	}
	var drop *DropError
	if err := srv.Of("/").Emit("out", chunk); !errors.As(err, &drop) || !errors.Is(err, ErrQueueFull) || drop.SocketIDs[0] != s.ID() {
		t.Fatalf("broadcast to full socket: %v", err)
	}

	// Once the client reads, EmitContext gets through.
	done := make(chan error, 1)
	go func() { done <- s.EmitContext(context.Background(), "out", "last") }()
	for {
		if msg := c.read(); msg == `42["out","last"]` {
			break
		}
	}
	if err := waitChan(t, done, "EmitContext"); err != nil {
		t.Fatal(err)
	}
	if err := ack("answered"); err != nil {
		t.Fatalf("ack retried once there is room: %v", err)
	}
	for c.read() != `431["answered"]` {
	}
	if err := ack("twice"); !errors.Is(err, ErrAckSent) {
		t.Fatalf("second ack: %v", err)
	}
}

func TestPollingTransport(t *testing.T) {
	_, ts := echoServer(t, nil)
	get := func(sid string) (int, string) {
		resp, err := http.Get(ts.URL + "/socket.io/?EIO=4&transport=polling" + sid)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(sid, body string) int {
		resp, err := http.Post(ts.URL+"/socket.io/?EIO=4&transport=polling"+sid, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	_, open := get("")
	var o struct{ SID string }
	_ = json.Unmarshal([]byte(open[1:]), &o)
	sid := "&sid=" + o.SID

	if code := post(sid, "40"); code != 200 {
		t.Fatalf("POST 40: %d", code)
	}
	_, body := get(sid)
	parts := strings.Split(body, "\x1e")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], `40{"sid":"`) || parts[1] != `42["auth",{}]` {
		t.Fatalf("poll %q", body)
	}
	post(sid, `451-["message",{"_placeholder":true,"num":0}]`+"\x1ebAQID")
	if _, body := get(sid); body != `451-["message-back",{"_placeholder":true,"num":0}]`+"\x1ebAQID" {
		t.Fatalf("poll %q", body)
	}
}

func TestServerClose(t *testing.T) {
	reasons := make(chan string, 1)
	srv := &Server{}
	srv.Of("/").OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r string) { reasons <- r })
	})
	ts := newTestServer(t, srv)
	c := dial(t, ts)
	c.connect("/")
	if n := srv.ConnCount(); n != 1 {
		t.Fatalf("ConnCount = %d", n)
	}
	srv.Close()
	c.expectClosed()
	if r := waitChan(t, reasons, "disconnect"); r != "server shutting down" {
		t.Fatalf("reason %q", r)
	}
	if n := srv.ConnCount(); n != 0 {
		t.Fatalf("ConnCount after Close = %d", n)
	}
}

func TestOriginForbidden(t *testing.T) {
	srv := &Server{CheckOrigin: func(*http.Request) bool { return false }}
	ts := newTestServer(t, srv)
	resp, err := http.Get(ts.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("polling: %d", resp.StatusCode)
	}
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	_, wsResp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || wsResp == nil || wsResp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket: %v", err)
	}
	wsResp.Body.Close()
}

func TestEmitValidation(t *testing.T) {
	sockets := make(chan *Socket, 1)
	srv := &Server{}
	srv.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	ts := newTestServer(t, srv)
	c := dial(t, ts)
	c.connect("/")
	s := waitChan(t, sockets, "connection")
	if err := s.Emit("disconnect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("reserved: %v", err)
	}
	if err := s.Emit(""); !errors.Is(err, ErrEmptyEvent) {
		t.Fatalf("empty: %v", err)
	}
	if err := s.Emit("bin", []byte{7}, Text("t")); err != nil {
		t.Fatal(err)
	}
	c.expect(`451-["bin",{"_placeholder":true,"num":0},"t"]`)
	if mt, b := c.readFrame(); mt != websocket.BinaryMessage || b != "\x07" {
		t.Fatalf("attachment %d %q", mt, b)
	}
}

// TestNamespaceHandlers: handlers registered once on the namespace serve
// every socket, in order: the namespace's for the event, the socket's, the
// namespace's for any event, the socket's for any event.
func TestNamespaceHandlers(t *testing.T) {
	srv := &Server{}
	ns := srv.Of("/")
	ns.On("ping-me", func(s *Socket, m *Message, ack AckFunc) {
		var n int
		_ = m.Decode(0, &n)
		_ = s.Emit("ns", s.Get("name"), n)
	})
	ns.OnAny(func(s *Socket, event string, _ *Message, _ AckFunc) { _ = s.Emit("ns-any", event) })
	ns.OnConnection(func(s *Socket) {
		s.Set("name", s.Handshake().Auth)
		s.On("ping-me", func(s *Socket, _ *Message, ack AckFunc) {
			_ = s.Emit("socket")
			if ack != nil {
				_ = ack("acked")
			}
		})
		s.OnAny(func(s *Socket, event string, _ *Message, _ AckFunc) { _ = s.Emit("socket-any", event) })
	})
	ts := newTestServer(t, srv)
	for _, name := range []string{"a", "b"} {
		c := dial(t, ts)
		c.send(`40{"n":"` + name + `"}`)
		c.read()
		c.send(`427["ping-me",3]`)
		c.expect(`42["ns",{"n":"` + name + `"},3]`)
		c.expect(`42["socket"]`)
		c.expect(`437["acked"]`)
		c.expect(`42["ns-any","ping-me"]`)
		c.expect(`42["socket-any","ping-me"]`)
		c.send(`42["other"]`)
		c.expect(`42["ns-any","other"]`)
		c.expect(`42["socket-any","other"]`)
	}
}
