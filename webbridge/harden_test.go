package webbridge

import (
	"context"
	"net/http"
	"testing"
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
