package webbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/files"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

const testTimeout = 10 * time.Second

// testEnv is a complete bridge over a real store, session core and
// workspace registry, served on 127.0.0.1:0.
type testEnv struct {
	t          testing.TB
	ts         *httptest.Server
	srv        *Server
	auth       *auth.Service
	store      *store.Store
	sessions   *sessions.Manager
	workspaces *workspaces.Manager
	alice, bob *store.User
	aliceWS    *store.Workspace // alice's empty workspace "proj"
	bobWS      *store.Workspace
}

type envOptions struct {
	eventsPerSecond int
	sessionQueue    int // core attachment queue
	socketQueue     int // engine.io outbound queue
	loginsPerMinute int
	healthInterval  time.Duration
	pingInterval    time.Duration
	extraRoutes     func(mux *http.ServeMux, e *testEnv)
	log             *slog.Logger // default: discarded; also the workspaces' logger
	github          *GitHub      // nil: GitHub off
	recordings      bool         // sessions may be recorded (on request)
	unlimited       bool         // no session limits per user or workspace
	relayIdle       time.Duration
}

func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := auth.New(st, []byte("0123456789abcdef0123456789abcdef"), time.Hour, time.Minute)
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	scfg := sessions.Config{QueueBytes: o.sessionQueue, KillGrace: time.Second, ShellIntegration: true}
	if o.github != nil {
		scfg.GitCredential = a.GitCredential
		o.github.OAuth.Auth = a
	}
	if o.unlimited {
		scfg.MaxPerUser, scfg.MaxPerWorkspace = -1, -1
	}
	if o.recordings {
		scfg.RecordDir, scfg.RecordOnRequest = filepath.Join(dir, "recordings"), true
	}
	mgr := sessions.NewManager(scfg, st, nil)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		mgr.Shutdown(sctx)
	})
	// AllowPrivateHosts: the test remotes are git http-backend on 127.0.0.1.
	wsm, err := workspaces.New(ctx, workspaces.Config{Root: filepath.Join(dir, "workspaces"), Store: st, Sessions: mgr,
		CoalesceWindow: 20 * time.Millisecond, Logger: o.log, AllowPrivateHosts: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wsm.Close() })
	e := &testEnv{t: t, auth: a, store: st, sessions: mgr, workspaces: wsm}
	if e.alice, err = a.AddUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if e.bob, err = a.AddUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if e.aliceWS, err = wsm.Create(ctx, e.alice, workspaces.CreateOptions{Name: "proj"}); err != nil {
		t.Fatal(err)
	}
	if e.bobWS, err = wsm.Create(ctx, e.bob, workspaces.CreateOptions{Name: "proj"}); err != nil {
		t.Fatal(err)
	}
	if o.loginsPerMinute == 0 {
		o.loginsPerMinute = 100
	}
	e.srv = &Server{
		Auth: a, Store: st, Sessions: mgr, Workspaces: wsm, LoginLimiter: auth.NewLimiter(o.loginsPerMinute),
		Log: o.log, GitHub: o.github, Files: files.New(files.Config{Workspaces: wsm, Log: o.log}),
		Socket: SocketConfig{
			EventsPerSecond:    o.eventsPerSecond,
			QueueBytes:         o.socketQueue,
			RevocationInterval: 200 * time.Millisecond,
			StatusDebounce:     50 * time.Millisecond,
			HealthInterval:     o.healthInterval,
			PingInterval:       o.pingInterval,
			RelayIdle:          o.relayIdle,
			Compression:        true,
		},
	}
	h := e.srv.Handler()
	if o.extraRoutes != nil {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		o.extraRoutes(mux, e)
		h = mux
	}
	e.ts = httptest.NewServer(h)
	t.Cleanup(e.ts.Close)
	t.Cleanup(func() { e.srv.Close(); e.srv.Files.Close() })
	return e
}

func (e *testEnv) token(u *store.User) string {
	e.t.Helper()
	tok, _, err := e.auth.IssueToken(u, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// sioClient is a minimal Engine.IO 4 / Socket.IO 5 client over a gorilla
// websocket: enough to test the bridge from Go without Node.
type sioClient struct {
	t  testing.TB
	ws *websocket.Conn

	mu      sync.Mutex
	events  []event // everything received, in order
	acks    map[int]json.RawMessage
	nextAck int
	pongs   int // heartbeats answered
	closed  bool
	changed chan struct{} // closed and replaced on every arrival
	wmu     sync.Mutex
}

type event struct {
	name string
	data json.RawMessage
}

func (e *testEnv) wsURL() string {
	return "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

// dialRaw opens the Engine.IO connection and sends CONNECT with auth; it
// returns the client and the namespace answer ("40{...}" or "44{...}").
func (e *testEnv) dialRaw(authPayload string) (*sioClient, string) {
	e.t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, resp, err := d.Dial(e.wsURL(), nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	e.t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(testTimeout))
	_, open, err := ws.ReadMessage()
	if err != nil || !strings.HasPrefix(string(open), "0{") {
		e.t.Fatalf("open packet %q: %v", open, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40"+authPayload)); err != nil {
		e.t.Fatal(err)
	}
	_, ans, err := ws.ReadMessage()
	if err != nil {
		e.t.Fatalf("connect answer: %v", err)
	}
	ws.SetReadDeadline(time.Time{})
	c := &sioClient{t: e.t, ws: ws, acks: map[int]json.RawMessage{}, changed: make(chan struct{})}
	return c, string(ans)
}

// dial connects with a token and starts reading.
func (e *testEnv) dial(token string) *sioClient {
	e.t.Helper()
	c, ans := e.dialRaw(`{"token":` + strconv.Quote(token) + `}`)
	if !strings.HasPrefix(ans, `40{"sid":`) {
		e.t.Fatalf("connect refused: %s", ans)
	}
	go c.readLoop()
	return c
}

func (c *sioClient) readLoop() {
	defer func() {
		c.mu.Lock()
		c.closed = true
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}()
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		msg := string(b)
		switch {
		case msg == "2":
			c.write("3")
			c.record(func() { c.pongs++ })
			continue
		case strings.HasPrefix(msg, "42"):
			var arr []json.RawMessage
			if err := json.Unmarshal([]byte(msg[2:]), &arr); err != nil || len(arr) == 0 {
				continue
			}
			var name string
			json.Unmarshal(arr[0], &name)
			var data json.RawMessage
			if len(arr) > 1 {
				data = arr[1]
			}
			c.record(func() { c.events = append(c.events, event{name, data}) })
		case strings.HasPrefix(msg, "43"):
			i := strings.IndexByte(msg, '[')
			id, _ := strconv.Atoi(msg[2:i])
			var arr []json.RawMessage
			json.Unmarshal([]byte(msg[i:]), &arr)
			var data json.RawMessage
			if len(arr) > 0 {
				data = arr[0]
			}
			c.record(func() { c.acks[id] = data })
		case strings.HasPrefix(msg, "41"):
			c.record(func() { c.events = append(c.events, event{"#disconnect", nil}) })
		}
	}
}

func (c *sioClient) record(fn func()) {
	c.mu.Lock()
	fn()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *sioClient) write(msg string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.WriteMessage(websocket.TextMessage, []byte(msg))
}

// emitRaw sends an event whose arguments are given as JSON text, asking for
// an ack; it returns the ack id.
func (c *sioClient) emitRaw(event, argsJSON string) int {
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.mu.Unlock()
	args := strconv.Quote(event)
	if argsJSON != "" {
		args += "," + argsJSON
	}
	c.write("42" + strconv.Itoa(id) + "[" + args + "]")
	return id
}

// call emits with a payload and waits for the ack.
func (c *sioClient) call(event string, payload any) map[string]any {
	c.t.Helper()
	arg := ""
	if payload != nil {
		b, _ := json.Marshal(payload)
		arg = string(b)
	}
	return c.waitAck(c.emitRaw(event, arg))
}

func (c *sioClient) waitAck(id int) map[string]any {
	c.t.Helper()
	var raw json.RawMessage
	c.waitFor(fmt.Sprintf("ack %d", id), func() bool {
		var ok bool
		raw, ok = c.acks[id]
		return ok
	})
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("ack %d: %s: %v", id, raw, err)
	}
	return out
}

// waitFor waits until cond (called with c.mu held) holds.
func (c *sioClient) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		// ch before cond: a cond that lets go of the lock (waitOutput) may
		// miss an event, which then has closed ch.
		ch := c.changed
		ok, closed := cond(), c.closed
		c.mu.Unlock()
		if ok {
			return
		}
		if closed {
			c.t.Fatalf("connection closed while waiting for %s", what)
		}
		select {
		case <-ch:
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for %s; events: %s", what, c.dump())
		}
	}
}

// waitEvent waits for the first event named name, from index from on,
// whose data satisfies match (nil: any); it returns the data and the index
// after it.
func (c *sioClient) waitEvent(name string, from int, match func(map[string]any) bool) (map[string]any, int) {
	c.t.Helper()
	var out map[string]any
	next := from
	c.waitFor("event "+name, func() bool {
		for i := from; i < len(c.events); i++ {
			if c.events[i].name != name {
				continue
			}
			var m map[string]any
			json.Unmarshal(c.events[i].data, &m)
			if match == nil || match(m) {
				out, next = m, i+1
				return true
			}
		}
		return false
	})
	return out, next
}

func (c *sioClient) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// output concatenates terminal-output of a session from event index from.
func (c *sioClient) output(sessionID string, from int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, ev := range c.events[from:] {
		if ev.name != "terminal-output" {
			continue
		}
		var o struct {
			SessionID string `json:"sessionId"`
			Output    string `json:"output"`
		}
		json.Unmarshal(ev.data, &o)
		if o.SessionID == sessionID {
			b.WriteString(o.Output)
		}
	}
	return b.String()
}

func (c *sioClient) waitOutput(sessionID string, from int, want string) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("output %q", want), func() bool {
		c.mu.Unlock()
		defer c.mu.Lock()
		return strings.Contains(c.output(sessionID, from), want)
	})
}

func (c *sioClient) dump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, ev := range c.events {
		s := string(ev.data)
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		fmt.Fprintf(&b, "\n  %s %s", ev.name, s)
	}
	return b.String()
}

func ackCode(ack map[string]any) string {
	e, _ := ack["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// createTerminal creates a sh session in workspace ws and returns its id.
func (c *sioClient) createTerminal(ws string) string {
	c.t.Helper()
	ack := c.call("create-terminal", map[string]any{"workspaceId": ws, "shell": "sh", "cols": 80, "rows": 24})
	if ack["ok"] != true {
		c.t.Fatalf("create-terminal: %v", ack)
	}
	return ack["sessionId"].(string)
}

func sessionsOpts(e *testEnv) sessions.SpawnOptions {
	return sessions.SpawnOptions{UserID: e.alice.ID, WorkspaceID: e.aliceWS.ID, Dir: e.aliceWS.LocalPath, Shell: "sh"}
}
