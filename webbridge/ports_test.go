package webbridge

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPortsHelperServer is not a test: the shells of the tests below run
// the test binary with CT_PORTS_HELPER set, so a server of the workspace
// is this function. "http" serves /headers, /ws (a WebSocket echo) and
// /sse; "echo" echoes raw TCP.
func TestPortsHelperServer(t *testing.T) {
	mode := os.Getenv("CT_PORTS_HELPER")
	if mode == "" {
		t.Skip("run by the ports tests inside a session")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	if mode == "echo" {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"host": r.Host, "headers": r.Header})
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, b, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, append([]byte("echo:"), b...)) != nil {
				return
			}
		}
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the stream stays open: only the first event can have arrived
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the workspace\n") })
	http.Serve(ln, mux)
}

// startHelper runs the helper server in a new terminal of alice's
// workspace and returns its port as ports-changed reports it.
func startHelper(t *testing.T, e *testEnv, mode string) int {
	t.Helper()
	c := e.dial(e.token(e.alice))
	if ack := c.call("join-workspace", map[string]any{"workspaceId": e.aliceWS.ID}); ack["ok"] != true {
		t.Fatal(ack)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	from := c.count()
	id := c.createTerminal(e.aliceWS.ID)
	c.call("terminal-input", map[string]any{"sessionId": id,
		"data": "CT_PORTS_HELPER=" + mode + " exec " + exe + " -test.run='^TestPortsHelperServer$'\r"})
	ev, _ := c.waitEvent("ports-changed", from, func(m map[string]any) bool {
		ps, _ := m["ports"].([]any)
		return m["workspaceId"] == e.aliceWS.ID && len(ps) > 0
	})
	p := ev["ports"].([]any)[0].(map[string]any)
	if !strings.HasPrefix(p["process"].(string), "webbridge") || p["address"] != "127.0.0.1" || p["pid"].(float64) == 0 {
		t.Fatalf("port: %v", p)
	}
	return int(p["port"].(float64))
}

func TestPortsDiscovered(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 missing")
	}
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	if ack := c.call("join-workspace", map[string]any{"workspaceId": e.aliceWS.ID}); ack["ok"] != true {
		t.Fatal(ack)
	}
	start := time.Now()
	id := c.createTerminal(e.aliceWS.ID)
	c.call("terminal-input", map[string]any{"sessionId": id, "data": "exec python3 -m http.server 0 --bind 127.0.0.1\r"})
	ev, _ := c.waitEvent("ports-changed", 0, func(m map[string]any) bool {
		ps, _ := m["ports"].([]any)
		return len(ps) > 0
	})
	t.Logf("python3 -m http.server detected after %v", time.Since(start))
	p := ev["ports"].([]any)[0].(map[string]any)
	if !strings.HasPrefix(p["process"].(string), "python") {
		t.Fatalf("ports-changed: %v", ev)
	}
	ack := c.call("list-ports", map[string]any{"workspaceId": e.aliceWS.ID})
	if ps, _ := ack["ports"].([]any); ack["ok"] != true || len(ps) != 1 || ps[0].(map[string]any)["port"] != p["port"] {
		t.Fatalf("list-ports: %v", ack)
	}
	// Bob learns nothing of alice's workspace or its ports.
	b := e.dial(e.token(e.bob))
	if ack := b.call("list-ports", map[string]any{"workspaceId": e.aliceWS.ID}); ackCode(ack) != CodeWorkspaceNotFound {
		t.Fatalf("bob's list-ports of alice's workspace: %v", ack)
	}
	if ack := b.call("list-ports", map[string]any{"workspaceId": e.bobWS.ID}); ack["ok"] != true || len(ack["ports"].([]any)) != 0 {
		t.Fatalf("bob's own ports: %v", ack)
	}
}

// previewClient is a browser holding the cookie of a preview; its
// requests go to the test server with the preview's Host.
type previewClient struct {
	host   string // the preview's host:port
	cookie *http.Cookie
}

func (e *testEnv) createPreview(token, workspaceID string, port int) (*http.Response, map[string]any) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"workspaceId": workspaceID, "port": port})
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/previews", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// previewGet sends path to the test server with the preview's Host, without
// following redirects.
func (e *testEnv) previewGet(host, path string, cookie *http.Cookie) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
	req.Host = host
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// openPreview asks for alice's preview of port and follows the ticket to
// the cookie.
func (e *testEnv) openPreview(token string, port int) previewClient {
	e.t.Helper()
	resp, out := e.createPreview(token, e.aliceWS.ID, port)
	if resp.StatusCode != 200 {
		e.t.Fatalf("POST /api/previews: %d %v", resp.StatusCode, out)
	}
	u, err := url.Parse(out["url"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	want := fmt.Sprintf("%d--proj--alice.localhost", port)
	srv, _ := url.Parse(e.ts.URL)
	if u.Hostname() != want || u.Port() != srv.Port() {
		e.t.Fatalf("preview URL %s, want host %s and the server's port", u, want)
	}
	r := e.previewGet(u.Host, u.RequestURI(), nil)
	r.Body.Close()
	var ck *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == previewCookie {
			ck = c
		}
	}
	if r.StatusCode != http.StatusSeeOther || ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Domain != "" {
		e.t.Fatalf("ticket exchange: %d %v", r.StatusCode, r.Header)
	}
	// The ticket works once.
	if r := e.previewGet(u.Host, u.RequestURI(), nil); r.StatusCode != http.StatusUnauthorized {
		e.t.Fatalf("ticket used twice: %d", r.StatusCode)
	}
	return previewClient{host: u.Host, cookie: ck}
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPreview(t *testing.T) {
	e := newEnv(t, envOptions{})
	port := startHelper(t, e, "http")
	pc := e.openPreview(e.token(e.alice), port)

	if body := readAll(t, e.previewGet(pc.host, "/", pc.cookie)); body != "hello from the workspace\n" {
		t.Fatalf("preview body %q", body)
	}
	// A cookie of the same name set from a sibling host does not hide ours.
	req0, _ := http.NewRequest("GET", e.ts.URL+"/", nil)
	req0.Host = pc.host
	req0.Header.Set("Cookie", previewCookie+"=tossed; "+pc.cookie.Name+"="+pc.cookie.Value)
	if r, err := http.DefaultClient.Do(req0); err != nil || r.StatusCode != 200 {
		t.Fatalf("with a tossed cookie first: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	// Headers as behind any reverse proxy; codeterm's cookie stays out.
	var got struct {
		Host    string
		Headers http.Header
	}
	req, _ := http.NewRequest("GET", e.ts.URL+"/headers", nil)
	req.Host = pc.host
	req.AddCookie(pc.cookie)
	req.AddCookie(&http.Cookie{Name: "app", Value: "1"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	h := got.Headers
	if got.Host != pc.host || h.Get("X-Forwarded-Host") != pc.host || h.Get("X-Forwarded-Proto") != "http" ||
		h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("Cookie") != "app=1" {
		t.Fatalf("the app saw host %q, headers %v", got.Host, h)
	}

	// Server-sent events arrive while the response is still open.
	sse := e.previewGet(pc.host, "/sse", pc.cookie)
	line := make(chan string, 1)
	go func() {
		b := make([]byte, 64)
		n, _ := io.ReadAtLeast(sse.Body, b, len("data: first\n\n"))
		line <- string(b[:n])
	}()
	select {
	case got := <-line:
		if got != "data: first\n\n" {
			t.Fatalf("event stream: %q", got)
		}
	case <-time.After(testTimeout):
		t.Fatal("the first event never arrived through the preview")
	}
	sse.Body.Close()

	// A WebSocket through the preview.
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	hdr := http.Header{"Host": {pc.host}, "Cookie": {pc.cookie.Name + "=" + pc.cookie.Value}}
	wsURL := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/ws"
	ws, resp, err := d.Dial(wsURL, hdr)
	if err != nil {
		t.Fatalf("websocket through the preview: %v", err)
	}
	resp.Body.Close()
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("ping"))
	ws.SetReadDeadline(time.Now().Add(testTimeout))
	if _, b, err := ws.ReadMessage(); err != nil || string(b) != "echo:ping" {
		t.Fatalf("websocket echo %q, %v", b, err)
	}

	// Without the cookie, or with one for another host: 401, and never
	// codeterm's API or page on a preview host.
	for _, tc := range []struct {
		host, path string
		cookie     *http.Cookie
	}{
		{pc.host, "/", nil},
		{pc.host, "/api/workspaces", nil},
		{pc.host, "/", &http.Cookie{Name: previewCookie, Value: "forged"}},
		{strings.Replace(pc.host, "--alice", "--bob", 1), "/", pc.cookie},
		{strings.Replace(pc.host, fmt.Sprint(port), fmt.Sprint(port+1), 1), "/", pc.cookie},
	} {
		r := e.previewGet(tc.host, tc.path, tc.cookie)
		body := readAll(t, r)
		if r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Open codeterm") {
			t.Errorf("%s%s: %d %q", tc.host, tc.path, r.StatusCode, body)
		}
	}
	// codeterm's own origin never proxies.
	if r := e.previewGet(e.ts.Listener.Addr().String(), "/headers", pc.cookie); strings.Contains(readAll(t, r), "headers") {
		t.Error("codeterm's origin served the app")
	}
}

func TestPreviewOtherUser(t *testing.T) {
	e := newEnv(t, envOptions{})
	port := startHelper(t, e, "http")
	// Bob asks for alice's port in her workspace and in his: both answer
	// like a port that does not exist.
	missing, _ := e.createPreview(e.token(e.alice), e.aliceWS.ID, port+1)
	r1, out1 := e.createPreview(e.token(e.bob), e.aliceWS.ID, port)
	r2, out2 := e.createPreview(e.token(e.bob), e.bobWS.ID, port)
	if missing.StatusCode != http.StatusNotFound || r1.StatusCode != http.StatusNotFound || r2.StatusCode != http.StatusNotFound {
		t.Fatalf("missing port %d; bob: %d %v, %d %v", missing.StatusCode, r1.StatusCode, out1, r2.StatusCode, out2)
	}
	// Alice's cookie is for her preview host only; bob's preview host for
	// the same port refuses it.
	pc := e.openPreview(e.token(e.alice), port)
	bobHost := strings.Replace(pc.host, "--alice", "--bob", 1)
	if r := e.previewGet(bobHost, "/", pc.cookie); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("alice's cookie on bob's host: %d", r.StatusCode)
	}
}

func TestTunnel(t *testing.T) {
	e := newEnv(t, envOptions{})
	port := startHelper(t, e, "echo")
	base := "ws" + strings.TrimPrefix(e.ts.URL, "http") + fmt.Sprintf("/tunnel/%s/%d", e.aliceWS.ID, port)

	// Refused: no token, bob's token, a port outside the workspace.
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	for _, tc := range []struct {
		url, token string
		want       int
	}{
		{base, "", http.StatusUnauthorized},
		{base, e.token(e.bob), http.StatusNotFound},
		{strings.TrimSuffix(base, fmt.Sprint(port)) + fmt.Sprint(e.ts.Listener.Addr().(*net.TCPAddr).Port), e.token(e.alice), http.StatusNotFound},
	} {
		h := http.Header{}
		if tc.token != "" {
			h.Set("Authorization", "Bearer "+tc.token)
		}
		_, resp, err := d.Dial(tc.url, h)
		if err == nil || resp == nil || resp.StatusCode != tc.want {
			t.Fatalf("%s: %v %v, want %d", tc.url, resp, err, tc.want)
		}
	}

	// 64 MiB through the tunnel and back, byte-exact, the token in the
	// subprotocols as a browser sends it.
	d.Subprotocols = []string{"binary", tunnelProtocolPrefix + e.token(e.alice)}
	ws, resp, err := d.Dial(base, nil)
	if err != nil {
		t.Fatalf("tunnel: %v", err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "binary" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	defer ws.Close()
	const total = 64 << 20
	data := make([]byte, total)
	rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		for off := 0; off < total; off += 256 << 10 {
			if err := ws.WriteMessage(websocket.BinaryMessage, data[off:off+256<<10]); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	got := make([]byte, 0, total)
	ws.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for len(got) < total {
		typ, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("message type %d", typ)
		}
		got = append(got, b...)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the tunnel changed the bytes")
	}

	// Signing out ends the tunnels opened with that token.
	tok := e.token(e.alice)
	d.Subprotocols = []string{"binary", tunnelProtocolPrefix + tok}
	ws2, resp, err := d.Dial(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws2.Close()
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("logout: %v %v", resp, err)
	}
	ws2.SetReadDeadline(time.Now().Add(testTimeout))
	if _, _, err := ws2.ReadMessage(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("tunnel after sign-out: %v", err)
	}
}

// A preview's cookie ends with the token it was opened with.
func TestPreviewSignOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	port := startHelper(t, e, "http")
	tok := e.token(e.alice)
	pc := e.openPreview(tok, port)
	if r := e.previewGet(pc.host, "/", pc.cookie); r.StatusCode != 200 {
		t.Fatalf("preview: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("logout: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(testTimeout)
	for {
		r := e.previewGet(pc.host, "/", pc.cookie)
		r.Body.Close()
		if r.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("preview still served after sign-out: %d", r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond) // the recheck is on a period; nothing to wait on
	}
}

func TestIsPreviewLabel(t *testing.T) {
	for label, want := range map[string]bool{
		"3000--demo--alice":   true,
		"8080--my-app--a_b":   true,
		"3000--a--b--c":       true, // a workspace or user with "--" in it
		"3000--demo":          false,
		"--demo--alice":       false,
		"123456--demo--alice": false,
		"30a0--demo--alice":   false,
		"3000----alice":       false,
		"3000--demo--":        false,
		"3000--de.mo--alice":  false,
		"www":                 false,
	} {
		if got := isPreviewLabel(label); got != want {
			t.Errorf("isPreviewLabel(%q) = %v", label, got)
		}
	}
}
