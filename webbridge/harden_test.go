package webbridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/codeterm/codeterm/workspaces"
)

// restStatus calls the REST API with a bearer token.
func (e *testEnv) restStatus(method, path, token string) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// Signing out revokes the token itself: it stops working for REST and
// Socket.IO, its sockets get force-logout at once, and the user's other
// tokens keep working.
func TestLogoutRevokesToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, other := e.token(e.alice), e.token(e.alice)
	c, c2 := e.dial(tok), e.dial(other)

	if s := e.restStatus("POST", "/api/auth/logout", tok); s != http.StatusOK {
		t.Fatalf("logout: %d", s)
	}
	if ev, _ := c.waitEvent("force-logout", 0, nil); ev["reason"] != "logout" {
		t.Errorf("force-logout %v", ev)
	}
	if s := e.restStatus("GET", "/api/workspaces", tok); s != http.StatusUnauthorized {
		t.Errorf("REST with a signed-out token: %d, want 401", s)
	}
	if _, ans := e.dialRaw(`{"token":"` + tok + `"}`); ans != `44{"message":"Authentication failed"}` {
		t.Errorf("socket with a signed-out token: %s", ans)
	}
	if s := e.restStatus("POST", "/api/auth/logout", tok); s != http.StatusUnauthorized {
		t.Errorf("second logout: %d, want 401", s)
	}
	if ack := c2.call("system-stats", nil); ack["ok"] != true {
		t.Errorf("the user's other token: %v", ack)
	}
	if s := e.restStatus("GET", "/api/workspaces", other); s != http.StatusOK {
		t.Errorf("REST with the other token: %d", s)
	}
}

// A token revoked by another process (only in the database) logs its
// sockets out on the next revocation check.
func TestRevokedTokenLogsOutSockets(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, claims, err := e.auth.IssueToken(e.alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial(tok)
	if err := e.store.RevokeToken(context.Background(), claims.ID, claims.ExpiresAt.Time); err != nil {
		t.Fatal(err)
	}
	c.waitEvent("force-logout", 0, nil)
}

// statusCount counts the session-status events of a session that match.
func (c *sioClient) statusCount(sessionID string, match func(map[string]any) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ev := range c.events {
		var m map[string]any
		if ev.name != "session-status" || json.Unmarshal(ev.data, &m) != nil || m["sessionId"] != sessionID {
			continue
		}
		if match(m) {
			n++
		}
	}
	return n
}

// The socket that creates or renames a terminal is told of the change once,
// before its ack, not once as a room member and again as the requester.
func TestSessionStatusOncePerChange(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	if ack := c.call("join-workspace", map[string]any{"workspaceId": e.aliceWS.ID}); ack["ok"] != true {
		t.Fatalf("join: %v", ack)
	}
	id := c.createTerminal(e.aliceWS.ID)
	if n := c.statusCount(id, func(m map[string]any) bool { return m["status"] == "active" }); n != 1 {
		t.Errorf("create-terminal: %d session-status (active) before the ack, want 1; events: %s", n, c.dump())
	}
	if ack := c.call("rename-terminal", map[string]any{"sessionId": id, "name": "renamed"}); ack["ok"] != true {
		t.Fatalf("rename: %v", ack)
	}
	if n := c.statusCount(id, func(m map[string]any) bool { return m["name"] == "renamed" }); n != 1 {
		t.Errorf("rename-terminal: %d session-status (renamed) before the ack, want 1; events: %s", n, c.dump())
	}
}

// Requests for a host name the server does not go by are refused (DNS
// rebinding); IP addresses, localhost, the public URL's host and the
// configured names are served.
func TestHostChecked(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.srv.PublicURL = "https://codeterm.example.com"
	e.srv.AllowedHosts = []string{"devbox.lan:8080"}
	h := e.srv.checkHost(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for host, want := range map[string]int{
		"127.0.0.1:8080":              200,
		"[::1]:8080":                  200,
		"localhost:8080":              200,
		"codeterm.example.com":        200,
		"CODETERM.example.com.:443":   200,
		"devbox.lan:8080":             200,
		"attacker.example:8080":       421,
		"codeterm.example.com.evil.x": 421,
	} {
		req := httptest.NewRequest("GET", "/api/health", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %q: %d, want %d", host, rec.Code, want)
		}
	}
	// Through the real server: REST, Socket.IO and the page alike.
	for _, path := range []string{"/api/health", "/socket.io/?EIO=4&transport=polling", "/"} {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Host = "rebound.attacker.example"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%s for a foreign Host: %d, want 421", path, res.StatusCode)
		}
	}
}

// A viewer's input and resizes are refused with READ_ONLY, not
// acknowledged and dropped.
func TestReadOnlyViewerRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	owner := e.dial(e.token(e.alice))
	id := owner.createTerminal(e.aliceWS.ID)
	viewer := e.dial(e.token(e.alice))
	if ack := viewer.call("attach-terminal", map[string]any{"sessionId": id, "readOnly": true}); ack["ok"] != true {
		t.Fatalf("attach read-only: %v", ack)
	}
	from := viewer.count()
	if ack := viewer.call("terminal-input", map[string]any{"sessionId": id, "data": "echo hi\r"}); ackCode(ack) != CodeReadOnly {
		t.Errorf("viewer's terminal-input: %v, want %s", ack, CodeReadOnly)
	}
	viewer.waitEvent("terminal-error", from, func(m map[string]any) bool { return m["code"] == CodeReadOnly })
	if ack := viewer.call("terminal-resize", map[string]any{"sessionId": id, "cols": 100, "rows": 30}); ackCode(ack) != CodeReadOnly {
		t.Errorf("viewer's terminal-resize: %v, want %s", ack, CodeReadOnly)
	}
	if ack := owner.call("terminal-input", map[string]any{"sessionId": id, "data": "true\r"}); ack["ok"] != true {
		t.Errorf("owner's input: %v", ack)
	}
}

// delete-workspace {deleteFiles: false} forgets the workspace and keeps its
// checkout; without it the files go.
func TestDeleteWorkspaceKeepsFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(e.token(e.alice))
	ctx := context.Background()
	keep, err := e.workspaces.Create(ctx, e.alice, workspaces.CreateOptions{Name: "keep"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keep.LocalPath, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ack := c.call("delete-workspace", map[string]any{"workspaceId": keep.ID, "deleteFiles": false}); ack["ok"] != true {
		t.Fatalf("delete-workspace: %v", ack)
	}
	if b, err := os.ReadFile(filepath.Join(keep.LocalPath, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("files after deleteFiles:false: %q, %v", b, err)
	}
	if _, err := e.store.WorkspaceByName(ctx, e.alice.ID, "keep"); err == nil {
		t.Error("the workspace is still registered")
	}
	if ack := c.call("delete-workspace", map[string]any{"workspaceId": e.aliceWS.ID}); ack["ok"] != true {
		t.Fatalf("delete-workspace: %v", ack)
	}
	if _, err := os.Stat(e.aliceWS.LocalPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("files after a plain delete: %v", err)
	}
}

// health-status says whether GitHub is configured, not a constant.
func TestHealthStatusGitHub(t *testing.T) {
	for _, tc := range []struct {
		gh   *GitHub
		want string
	}{{nil, "not_configured"}, {newFakeGitHub(t).config(t, "Octo"), "operational"}} {
		e := newEnv(t, envOptions{github: tc.gh, healthInterval: 20 * time.Millisecond})
		c := e.dial(e.token(e.alice))
		ev, _ := c.waitEvent("health-status", 0, nil)
		if got := ev["services"].(map[string]any)["github_api"]; got != tc.want {
			t.Errorf("github configured %v: github_api %v, want %s", tc.gh != nil, got, tc.want)
		}
	}
}
