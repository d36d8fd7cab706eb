package webbridge

import (
	"io"
	"net/http"
	"os"
	"testing"
	"time"
)

// metrics answers with the server's view of the socket; bad figures get
// INVALID_PAYLOAD.
func TestMetricsEvent(t *testing.T) {
	e := newEnv(t, envOptions{pingInterval: 50 * time.Millisecond})
	c := e.dial(e.token(e.alice))
	e.dial(e.token(e.alice))
	e.dial(e.token(e.bob))
	// Once the client has answered a ping, the server has its round-trip:
	// the pong travels before the event on the same connection.
	c.waitFor("a heartbeat", func() bool { return c.pongs > 0 })
	// The second socket is counted once the server has registered it,
	// which may come just after its dial returns.
	var ack map[string]any
	deadline := time.Now().Add(testTimeout)
	for {
		ack = c.call("metrics", map[string]any{"latency": 12.5, "bufferSize": 300, "activeConnections": 2})
		if ack["activeConnections"] == float64(2) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ack["pingRttMs"].(float64) <= 0 || ack["activeConnections"] != float64(2) || ack["queueBytes"] == nil || ack["transport"] != "websocket" {
		t.Fatalf("metrics answer %v", ack)
	}
	if ev, _ := c.waitEvent("metrics", 0, func(ev map[string]any) bool { return ev["activeConnections"] == float64(2) }); ev["activeConnections"] != float64(2) {
		t.Fatalf("metrics event %v", ev)
	}
	if ack := c.call("metrics", nil); ack["ok"] != true {
		t.Fatalf("metrics without figures: %v", ack)
	}
	for _, bad := range []map[string]any{{"latency": -1}, {"bufferSize": "lots"}} {
		if ack := c.call("metrics", bad); ackCode(ack) != CodeInvalidPayload {
			t.Errorf("metrics %v: %v", bad, ack)
		}
	}
}

// health-status probes its components: the file system by writing, GitHub
// by asking its API; the answer is reused for a while.
func TestHealthStatusProbes(t *testing.T) {
	f := newFakeGitHub(t)
	e := newEnv(t, envOptions{github: f.config(t, "Octo")})
	h := e.srv.healthStatus()
	if svc := h["services"].(map[string]string); h["status"] != "healthy" || svc["github_api"] != "operational" || svc["file_system"] != "operational" {
		t.Fatalf("all up: %v", h)
	}
	if again := e.srv.healthStatus(); again["timestamp"] != h["timestamp"] {
		t.Fatalf("not reused within %v: %v then %v", healthTTL, h, again)
	}

	f.api.Close()
	if err := os.RemoveAll(e.workspaces.Root()); err != nil {
		t.Fatal(err)
	}
	e.srv.healthState.at = time.Time{} // as if the TTL were over
	h = e.srv.healthStatus()
	if svc := h["services"].(map[string]string); h["status"] != "degraded" || svc["github_api"] != "unavailable" || svc["file_system"] != "unavailable" || svc["database"] != "operational" {
		t.Fatalf("GitHub and the disk down: %v", h)
	}
}

// /api/ready fails until the server says it serves, and again once it
// closes; /api/health stays up without authentication.
func TestReady(t *testing.T) {
	e := newEnv(t, envOptions{})
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/api/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("before SetReady: %d %s", code, body)
	}
	e.srv.SetReady(true)
	if code, body := get("/api/ready"); code != http.StatusOK {
		t.Fatalf("ready: %d %s", code, body)
	}
	e.srv.SetReady(false)
	if code, _ := get("/api/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("handing over: %d", code)
	}
	e.srv.SetReady(true)
	e.srv.Close()
	if code, _ := get("/api/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("closed: %d", code)
	}
	if code, body := get("/api/health"); code != http.StatusOK {
		t.Fatalf("health: %d %s", code, body)
	}
}
