package webbridge

import (
	"sync"
	"time"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
)

// hub tracks who is connected, so background work (revocation checks,
// session-status for sessions started over SSH, file watching) costs per
// connected user or joined workspace, never per socket.
type hub struct {
	mu      sync.Mutex
	users   map[string]*userState
	watches map[string]*wsWatch // joined workspaces, by id

	// diffMu serialises session diffs, so two callers never report the
	// same change twice.
	diffMu sync.Mutex
}

type userState struct {
	clients  map[*client]struct{}
	sessions map[string]sessionSnap // last reported, by id; nil until first diff
}

// sessionSnap is what session-status reports, minus the ever-changing
// lastActivity.
type sessionSnap struct {
	sess              *sessions.Session
	status            string
	name              string
	cols, rows        int
	attached, viewers int
}

func (h *hub) add(c *client) {
	h.mu.Lock()
	if h.users == nil {
		h.users = map[string]*userState{}
	}
	u := h.users[c.user.ID]
	if u == nil {
		u = &userState{clients: map[*client]struct{}{}}
		h.users[c.user.ID] = u
	}
	u.clients[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	if u := h.users[c.user.ID]; u != nil {
		delete(u.clients, c)
		if len(u.clients) == 0 {
			delete(h.users, c.user.ID)
		}
	}
	h.mu.Unlock()
}

func (h *hub) clientsByUser() map[string][]*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]*client, len(h.users))
	for id, u := range h.users {
		for c := range u.clients {
			out[id] = append(out[id], c)
		}
	}
	return out
}

// sessionStatus is the session-status payload.
type sessionStatus struct {
	SessionID    string `json:"sessionId"`
	Status       string `json:"status"` // active, inactive or terminated
	PID          int    `json:"pid"`
	WorkspaceID  string `json:"workspaceId"`
	LastActivity string `json:"lastActivity"`
	Name         string `json:"name"`
	Attached     int    `json:"attached"`
	Viewers      int    `json:"viewers"`
	// Cols and Rows are the session's size (the most recently active
	// client's), so the other clients can draw at it.
	Cols     int    `json:"cols"`
	Rows     int    `json:"rows"`
	ExitCode *int   `json:"exitCode,omitempty"`
	Signal   string `json:"signal,omitempty"`
}

// statusOf says active while someone is attached, inactive while the
// session runs unwatched, terminated once it has ended.
func statusOf(i sessions.Info) string {
	switch {
	case i.Status == store.SessionTerminated:
		return "terminated"
	case i.Attached+i.Viewers > 0:
		return "active"
	}
	return "inactive"
}

func toSessionStatus(i sessions.Info) sessionStatus {
	return sessionStatus{SessionID: i.ID, Status: statusOf(i), PID: i.PID, WorkspaceID: i.WorkspaceID,
		LastActivity: timestamp(i.LastActivity), Name: i.Name, Attached: i.Attached, Viewers: i.Viewers,
		Cols: i.Cols, Rows: i.Rows, ExitCode: i.ExitCode, Signal: i.Signal}
}

// syncSessions compares the user's sessions with what was last reported
// and sends session-status for each change to the workspace and session
// rooms. The first call for a user only takes the snapshot. It runs when
// the core reports a change (sessions started over SSH included) and after
// the bridge's own changes; the socket that asked for a change is told
// separately (client.tellStatus), since it may not be in the rooms yet.
func (s *Server) syncSessions(userID string) {
	if s.Sessions == nil {
		return
	}
	h := &s.hub
	h.diffMu.Lock()
	defer h.diffMu.Unlock()
	h.mu.Lock()
	u := h.users[userID]
	var prev map[string]sessionSnap
	first := u == nil || u.sessions == nil
	if u != nil {
		prev = u.sessions
	}
	h.mu.Unlock()
	if u == nil {
		return
	}

	list := s.Sessions.List(userID, "")
	next := make(map[string]sessionSnap, len(list))
	var changed []sessions.Info
	for _, sess := range list {
		i := sess.Info()
		snap := sessionSnap{sess: sess, status: statusOf(i), name: i.Name, cols: i.Cols, rows: i.Rows,
			attached: i.Attached, viewers: i.Viewers}
		next[i.ID] = snap
		if old, ok := prev[i.ID]; !first && (!ok || old != snap) {
			changed = append(changed, i)
		}
	}
	for id, old := range prev {
		if _, ok := next[id]; !ok {
			changed = append(changed, old.sess.Info()) // ended: Info says terminated
		}
	}
	h.mu.Lock()
	if u := h.users[userID]; u != nil {
		u.sessions = next
	}
	h.mu.Unlock()
	for _, i := range changed {
		for _, sock := range s.io.Of("/").To(workspaceRoom(i.WorkspaceID)).To(sessionRoom(i.ID)).Sockets() {
			if c := clientOf(sock); c != nil {
				c.sendStatus(i)
			}
		}
		s.kickWorkspace(i.WorkspaceID)
	}
}

// statusKey is what makes two session-status reports the same change.
type statusKey struct {
	status, name                  string
	cols, rows, attached, viewers int
}

// sendStatus sends session-status unless this socket has already been told
// of this state: it may hear of a change both as a member of the rooms and
// as the socket that asked for it.
func (c *client) sendStatus(i sessions.Info) {
	k := statusKey{statusOf(i), i.Name, i.Cols, i.Rows, i.Attached, i.Viewers}
	c.mu.Lock()
	if c.closed || c.statusSent[i.ID] == k {
		c.mu.Unlock()
		return
	}
	if c.statusSent == nil {
		c.statusSent = map[string]statusKey{}
	}
	c.statusSent[i.ID] = k
	c.mu.Unlock()
	c.emit("session-status", toSessionStatus(i))
}

// startBackground runs the periodic work: session diffs, revocation checks
// and health-status.
func (s *Server) startBackground() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var changes *sessions.Changes
		var changed <-chan struct{}               // nil without a session manager: never ready
		var commands <-chan sessions.CommandEvent // likewise
		if s.Sessions != nil {
			changes = s.Sessions.WatchChanges()
			defer changes.Close()
			changed = changes.C()
			feed := s.Sessions.WatchCommands()
			defer feed.Close()
			commands = feed.C()
		}
		userTick := time.NewTicker(s.Socket.RevocationInterval)
		healthTick := time.NewTicker(s.Socket.HealthInterval)
		defer userTick.Stop()
		defer healthTick.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-changed:
				users := map[string]bool{}
				for _, sess := range changes.Take() {
					users[sess.UserID()] = true
				}
				for id := range users {
					s.syncSessions(id)
				}
			case ev := <-commands:
				s.relayCommand(ev)
			case <-userTick.C:
				s.checkUsers()
			case <-healthTick.C:
				// Off this loop: a probe of an unreachable GitHub takes
				// seconds, and session changes must not wait for it.
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					s.broadcastHealth()
				}()
			}
		}
	}()
}
