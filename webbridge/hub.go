package webbridge

import (
	"context"
	"fmt"
	"hash/maphash"
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

	seed maphash.Seed // sums statusKeys (statusSums); set before the first socket
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
	clients           string // the clients and their repaint counts, as a comparable key
	users             string // attendeesKey
	recording         bool
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
	// Clients lists the attachments, each with the repaints it got in
	// place of output: what it did not see byte for byte.
	Clients []clientStatus `json:"clients"`
	// Users lists who is attached: {user, role, via} per attachment.
	Users []sessions.Attendee `json:"users"`
	// Recording: the session's output is being recorded (a badge for
	// everyone attached).
	Recording bool `json:"recording"`
}

type clientStatus struct {
	ID       int    `json:"id"`     // terminal-attached's clientId for a socket
	Client   string `json:"client"` // "ssh" or "socket"
	ReadOnly bool   `json:"readOnly"`
	Repaints int    `json:"repaints"`
}

func clientsOf(i sessions.Info) []clientStatus {
	out := make([]clientStatus, 0, len(i.Clients))
	for _, c := range i.Clients {
		out = append(out, clientStatus{ID: c.ID, Client: c.Client, ReadOnly: c.ReadOnly, Repaints: c.Repaints})
	}
	return out
}

// clientsKey sums up the clients for the change diff.
func clientsKey(i sessions.Info) string {
	var b []byte
	for _, c := range i.Clients {
		b = fmt.Appendf(b, "%d:%s:%t:%d;", c.ID, c.Client, c.ReadOnly, c.Repaints)
	}
	return string(b)
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
		Cols: i.Cols, Rows: i.Rows, ExitCode: i.ExitCode, Signal: i.Signal, Clients: clientsOf(i), Users: []sessions.Attendee{}}
}

// statusOfSession is toSessionStatus with the attendees, which Info does
// not carry.
func statusOfSession(sess *sessions.Session, i sessions.Info) sessionStatus {
	st := toSessionStatus(i)
	if i.Status != store.SessionTerminated {
		st.Users = sess.Attendees()
		st.Recording = sess.Recording()
	}
	return st
}

// attendeesKey sums up the attendees for the change diff.
func attendeesKey(users []sessions.Attendee) string {
	var b []byte
	for _, a := range users {
		b = append(b, a.User+"/"+string(a.Role)+"/"+a.Via+";"...)
	}
	return string(b)
}

// syncSessions compares the user's sessions with what was last reported
// and sends session-status for each change to the workspace and session
// rooms. The first call for a user only takes the snapshot. It runs for
// a user's first socket (baseline), for a guest of a session that changed
// (which sessions are shared with them is the store's to say) and after
// record-session; a change of one session of the user's own is
// syncSession's. The socket that asked for a change is told separately
// (client.tellStatus), since it may not be in the rooms yet.
func (s *Server) syncSessions(userID string) {
	if s.Sessions == nil {
		return
	}
	s.hub.diffMu.Lock()
	defer s.hub.diffMu.Unlock()
	s.diffAll(userID)
}

// syncSession is syncSessions for a change of sess alone: it costs the
// same however many sessions the user has, where a whole diff would list
// and compare them all on every start, attach and detach (with a few
// hundred sessions, most of what the server allocated while they
// started). A session shared with the user is diffed with all the others
// shared with them: which those are is the store's to say.
func (s *Server) syncSession(userID string, sess *sessions.Session) {
	if s.Sessions == nil {
		return
	}
	s.hub.diffMu.Lock()
	defer s.hub.diffMu.Unlock()
	connected, prev := s.hub.reported(userID)
	switch {
	case !connected:
		return
	case prev == nil || sess.UserID() != userID:
		s.diffAll(userID)
		return
	}
	i := sess.Info()
	old, had := prev[i.ID]
	if i.Status == store.SessionTerminated {
		// Ended: reported once, as a whole diff reports a session that
		// is no longer listed.
		if !had {
			return
		}
		delete(prev, i.ID)
	} else {
		snap := snapOf(sess, i)
		if had && old == snap {
			return
		}
		prev[i.ID] = snap
	}
	s.report(userID, i)
}

// baseline takes the user's first snapshot, unless there is one: their
// later sockets hear of changes as the first does.
func (s *Server) baseline(userID string) {
	if s.Sessions == nil {
		return
	}
	s.hub.diffMu.Lock()
	defer s.hub.diffMu.Unlock()
	if connected, prev := s.hub.reported(userID); connected && prev == nil {
		s.diffAll(userID)
	}
}

// reported is what was last reported of the user's sessions, nil before
// the first diff; connected is false when the user has no socket. The
// caller holds diffMu, under which alone the snapshot changes.
func (h *hub) reported(userID string) (connected bool, prev map[string]sessionSnap) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[userID]
	if u == nil {
		return false, nil
	}
	return true, u.sessions
}

// diffAll is syncSessions with the hub's diffMu held.
func (s *Server) diffAll(userID string) {
	h := &s.hub
	connected, prev := h.reported(userID)
	if !connected {
		return
	}
	first := prev == nil

	list := append(s.Sessions.List(userID, ""), s.sharedSessions(userID)...)
	next := make(map[string]sessionSnap, len(list))
	var changed []sessions.Info
	for _, sess := range list {
		i := sess.Info()
		snap := snapOf(sess, i)
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
	s.report(userID, changed...)
}

// snapOf is what of sess a diff compares.
func snapOf(sess *sessions.Session, i sessions.Info) sessionSnap {
	return sessionSnap{sess: sess, status: statusOf(i), name: i.Name, cols: i.Cols, rows: i.Rows,
		attached: i.Attached, viewers: i.Viewers, clients: clientsKey(i), users: attendeesKey(sess.Attendees()), recording: sess.Recording()}
}

// report sends the user's changed sessions' status to the workspace and
// session rooms.
func (s *Server) report(userID string, changed ...sessions.Info) {
	for _, i := range changed {
		for _, sock := range s.io.Of("/").To(workspaceRoom(i.WorkspaceID)).To(sessionRoom(i.ID)).Sockets() {
			// A guest's socket is in the session's room only: the
			// workspace's room would tell it of the owner's others.
			if c := clientOf(sock); c != nil && (c.user.ID == userID || c.view(i.ID) != nil) {
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
	users                         string
	recording                     bool
}

// statusSums is the last session-status sent to a socket, by session id,
// as a sum of its statusKey. Every socket keeps one for its life, for the
// sessions of the workspaces it joined and those it attached to: a slice,
// since most sockets hear of a few sessions (a map costs one a table of
// eight whatever it holds), and a sum, a tenth of the key's size.
type statusSums []statusSum

type statusSum struct {
	id  string
	sum uint64
}

// set records sum for id and reports whether it differs from the last.
func (s *statusSums) set(id string, sum uint64) bool {
	for i := range *s {
		if e := &(*s)[i]; e.id == id {
			if e.sum == sum {
				return false
			}
			e.sum = sum
			return true
		}
	}
	*s = append(*s, statusSum{id, sum})
	return true
}

// sendStatus sends session-status unless this socket has already been told
// of this state: it may hear of a change both as a member of the rooms and
// as the socket that asked for it.
func (c *client) sendStatus(i sessions.Info) {
	sess, _, _ := c.srv.Sessions.Join(c.ctx, c.user.ID, i.ID)
	st := toSessionStatus(i)
	if sess != nil {
		st = statusOfSession(sess, i)
	}
	k := statusKey{statusOf(i), i.Name, i.Cols, i.Rows, i.Attached, i.Viewers, attendeesKey(st.Users), st.Recording}
	sum := maphash.Comparable(c.srv.hub.seed, k)
	c.mu.Lock()
	if c.closed || !c.statusSent.set(i.ID, sum) {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.emit("session-status", st)
}

// sharedSessions lists the live sessions shared with the user, for the
// session diff: a guest hears of changes in them too.
func (s *Server) sharedSessions(userID string) []*sessions.Session {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	list, err := s.Sessions.SharedWith(ctx, userID)
	if err != nil {
		s.Log.Warn("list shared sessions", "err", err)
		return nil
	}
	out := make([]*sessions.Session, 0, len(list))
	for _, sh := range list {
		out = append(out, sh.Session)
	}
	return out
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
				guests := map[string]bool{}
				for _, sess := range changes.Take() {
					s.syncSession(sess.UserID(), sess)
					for _, g := range sess.Guests() {
						guests[g] = true
					}
				}
				for id := range guests {
					s.syncSessions(id)
				}
			case ev := <-commands:
				s.relayCommand(ev)
			case <-userTick.C:
				s.checkUsers()
				if s.Sessions != nil {
					// Shares changed by another process (the CLI).
					s.Sessions.EnforceShares(s.ctx)
				}
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
