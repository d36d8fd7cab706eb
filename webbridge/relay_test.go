package webbridge

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// relays counts the goroutines relaying a terminal's output.
func relays() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "webbridge.(*termView).relay(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitRelays waits, polling, until n relays run.
func waitRelays(t *testing.T, what string, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for relays() != n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %d relays, want %d", what, relays(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An idle terminal keeps no goroutine relaying its output: the relay
// leaves after RelayIdle and comes back for the next output (an echo, the
// exit), for a detach and for a socket that goes away, and the view still
// ends properly in each case.
func TestIdleTerminalKeepsNoRelay(t *testing.T) {
	e := newEnv(t, envOptions{relayIdle: 20 * time.Millisecond})
	c := e.dial(e.token(e.alice))
	id := c.createTerminal(e.aliceWS.ID)
	c.waitFor("the prompt", func() bool {
		c.mu.Unlock()
		defer c.mu.Lock()
		return strings.TrimSpace(c.output(id, 0)) != ""
	})
	waitRelays(t, "the relay to leave", 0)

	from := c.count()
	c.call("terminal-input", map[string]any{"sessionId": id, "data": "echo back-$((6*7))\r"})
	c.waitOutput(id, from, "back-42")
	waitRelays(t, "the relay to leave again", 0)

	// A second terminal: detached while its relay is away.
	other := c.createTerminal(e.aliceWS.ID)
	waitRelays(t, "both relays to leave", 0)
	if ack := c.call("detach-terminal", map[string]any{"sessionId": other}); ack["ok"] != true {
		t.Fatalf("detach: %v", ack)
	}
	s, err := e.sessions.Get(e.alice.ID, other)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Info().Clients); n != 0 {
		t.Fatalf("detached, the session still has %d clients", n)
	}

	// The exit while away: process-exit comes.
	from = c.count()
	c.call("terminal-input", map[string]any{"sessionId": id, "data": "sleep 0.2; exit 7\r"})
	c.waitEvent("process-exit", from, func(m map[string]any) bool { return m["sessionId"] == id && m["exitCode"] == float64(7) })

	// A socket that goes away while its relay is away: the view ends, the
	// session loses the client.
	d := e.dial(e.token(e.alice))
	if ack := d.call("attach-terminal", map[string]any{"sessionId": other}); ack["ok"] != true {
		t.Fatalf("attach: %v", ack)
	}
	waitRelays(t, "the relay to leave", 0)
	if n := len(s.Info().Clients); n != 1 {
		t.Fatalf("attached, the session has %d clients", n)
	}
	d.ws.Close()
	deadline := time.Now().Add(testTimeout)
	for len(s.Info().Clients) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the socket went away but its view of the session stayed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
