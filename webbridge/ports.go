package webbridge

import (
	"context"
	"net/http"
	"time"

	"github.com/codeterm/codeterm/ports"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// portsInterval is how often a joined workspace's listening ports are
// looked up again: nothing announces a new listener.
const portsInterval = 2 * time.Second

// portsPayload is the body of ports-changed and of list-ports' ack.
type portsPayload struct {
	WorkspaceID string       `json:"workspaceId"`
	Ports       []ports.Port `json:"ports"`
}

func registerPortEvents(ns *socketio.Namespace) {
	on(ns, "list-ports", "workspace-error", (*client).listPorts)
}

// list-ports {workspaceId}
func (c *client) listPorts(m *socketio.Message, r *reply) {
	id, ok := c.workspaceIDPayload(m, r, "ports")
	if !ok {
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.srv.ctx, 10*time.Second)
		defer cancel()
		if _, err := c.srv.workspace(ctx, c.user.ID, id); err != nil {
			r.fail(c.workspaceFailure(id, err))
			return
		}
		ps, err := c.srv.ports.Ports(c.user.ID, id)
		if err != nil {
			c.log.Error("list ports", "workspace", id, "err", err)
			r.fail(internalError())
			return
		}
		ack := map[string]any{"workspaceId": id, "ports": ps}
		if c.srv.SSHTarget != nil {
			ack["sshTarget"] = c.srv.SSHTarget(c.user.Name)
		}
		r.ok(ack)
	})
}

// watchPorts sends ports-changed to the workspace's room while it is
// joined (until ctx ends).
func (s *Server) watchPorts(ctx context.Context, w *wsWatch) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.ports.Watch(ctx, w.userID, w.id, portsInterval, func(ps []ports.Port) {
			s.toRooms("ports-changed", portsPayload{WorkspaceID: w.id, Ports: ps}, workspaceRoom(w.id))
		})
	}()
}

func (s *Server) portRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/previews", s.authed(s.createPreview))
	mux.HandleFunc("GET /tunnel/{workspaceId}/{port}", s.tunnel)
}
