package webbridge

import (
	"math"
	"time"

	"github.com/codeterm/codeterm/webbridge/socketio"
)

// metrics {latency?, bufferSize?, activeConnections?}: the client tells
// how the connection looks from its side; the server answers (ack and a
// metrics event) with its own view of this socket: what waits in its
// outbound queue, the round-trip of the last heartbeat, and how many
// sockets this user has open.
func (c *client) metrics(m *socketio.Message, r *reply) {
	var p struct {
		Latency           *float64 `json:"latency"`
		BufferSize        *float64 `json:"bufferSize"`
		ActiveConnections *float64 `json:"activeConnections"`
	}
	if m.Len() > 0 {
		if e := decodePayload(m, &p); e != nil {
			r.fail(e)
			return
		}
	}
	for name, v := range map[string]*float64{"latency": p.Latency, "bufferSize": p.BufferSize, "activeConnections": p.ActiveConnections} {
		if v != nil && (*v < 0 || math.IsInf(*v, 0) || math.IsNaN(*v)) {
			r.fail(invalidField(name, name+" must be a non-negative number"))
			return
		}
	}
	if p.Latency != nil || p.BufferSize != nil {
		c.log.Debug("client metrics", "latency_ms", p.Latency, "buffer", p.BufferSize)
	}
	out := map[string]any{
		"queueBytes":        c.sock.QueuedBytes(),
		"pingRttMs":         float64(c.sock.PingRTT().Microseconds()) / 1000,
		"activeConnections": c.srv.hub.clientsOf(c.user.ID),
		"transport":         c.sock.Transport(),
		"timestamp":         timestamp(time.Now()),
	}
	c.emit("metrics", out)
	r.ok(out)
}

// clientsOf counts the user's open sockets.
func (h *hub) clientsOf(userID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.users[userID]; u != nil {
		return len(u.clients)
	}
	return 0
}
