package webbridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// who is the socket's user as the core's attendee lists show it.
func (c *client) who() sessions.Who {
	return sessions.Who{UserID: c.user.ID, User: c.user.Name, Via: "browser", Addr: c.sock.Handshake().RemoteAddr}
}

// editorNote is what an invitation as editor says, since typing into the
// owner's shell acts as the owner's account.
const editorNote = "As an editor you type into the owner's shell, which runs as the owner's account."

// shareJSON is one share in list-shares and the share events.
type shareJSON struct {
	SessionID string `json:"sessionId"`
	User      string `json:"user"`
	Role      string `json:"role"`
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// sharedJSON is a session shared with the user: GET /api/shared and
// session-shared. It names nothing of the owner's but the session.
type sharedJSON struct {
	SessionID string `json:"sessionId"`
	Name      string `json:"name"`
	Owner     string `json:"owner"`
	Role      string `json:"role"`
	Shell     string `json:"shell"`
	Cols      int    `json:"cols"`
	Rows      int    `json:"rows"`
	Status    string `json:"status"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	Note      string `json:"note,omitempty"`
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return timestamp(t)
}

func (s *Server) sharedOf(ctx context.Context, sh sessions.Shared) sharedJSON {
	i := sh.Session.Info()
	owner := ""
	if u, err := s.Store.UserByID(ctx, sh.OwnerID); err == nil {
		owner = u.Name
	}
	out := sharedJSON{SessionID: i.ID, Name: i.Name, Owner: owner, Role: string(sh.Role), Shell: i.Shell,
		Cols: i.Cols, Rows: i.Rows, Status: statusOf(i), ExpiresAt: expiry(sh.ExpiresAt)}
	if sh.Role == sessions.RoleEditor {
		out.Note = editorNote
	}
	return out
}

// shareError maps the core's sharing errors; the rest are session errors.
func shareError(id string, err error) *wireError {
	switch {
	case errors.Is(err, sessions.ErrInvalidRole):
		return invalidField("role", "role must be viewer or editor")
	case errors.Is(err, sessions.ErrInvalidGuest):
		return invalidField("user", "no such user to share with")
	}
	return sessionError(id, err)
}

// guestOf checks that the socket's user owns the session, then finds the
// guest by name. Anyone but the owner is told the session does not exist
// before the guest's name is even looked up.
func (c *client) guestOf(ctx context.Context, sessionID, name string) (sessions.Who, *wireError) {
	if _, err := c.srv.Sessions.Get(c.user.ID, sessionID); err != nil {
		return sessions.Who{}, sessionError(sessionID, err)
	}
	guest, err := c.srv.Store.UserByName(ctx, name)
	if err != nil {
		return sessions.Who{}, shareError(sessionID, sessions.ErrInvalidGuest)
	}
	return sessions.Who{UserID: guest.ID, User: guest.Name}, nil
}

// share-session {sessionId, user, role, ttl?}: ttl in seconds.
func (c *client) shareSession(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
		User      string `json:"user"`
		Role      string `json:"role"`
		TTL       int64  `json:"ttl"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	if e := requiredID("user", p.User); e != nil {
		r.fail(e)
		return
	}
	if p.TTL < 0 {
		r.fail(invalidField("ttl", "ttl must be a positive number of seconds"))
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		guest, e := c.guestOf(ctx, p.SessionID, p.User)
		if e != nil {
			r.fail(e)
			return
		}
		sh, err := c.srv.Sessions.ShareSession(ctx, c.who(), p.SessionID, guest, sessions.Role(p.Role),
			time.Duration(p.TTL)*time.Second)
		if err != nil {
			r.fail(shareError(p.SessionID, err))
			return
		}
		out := shareJSON{SessionID: sh.SessionID, User: guest.User, Role: string(sh.Role), ExpiresAt: expiry(sh.ExpiresAt)}
		r.ok(map[string]any{"share": out})
		if list, err := c.srv.Sessions.SharedWith(ctx, guest.UserID); err == nil {
			for _, x := range list {
				if x.Session.ID() == sh.SessionID {
					c.srv.toRooms("session-shared", c.srv.sharedOf(ctx, x), userRoom(guest.UserID))
				}
			}
		}
	})
}

// unshare-session {sessionId, user}
func (c *client) unshareSession(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
		User      string `json:"user"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	if e := requiredID("user", p.User); e != nil {
		r.fail(e)
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		guest, e := c.guestOf(ctx, p.SessionID, p.User)
		if e != nil {
			r.fail(e)
			return
		}
		if err := c.srv.Sessions.UnshareSession(ctx, c.who(), p.SessionID, guest); err != nil {
			r.fail(shareError(p.SessionID, err))
			return
		}
		r.ok(map[string]any{"sessionId": p.SessionID, "user": guest.User})
		c.srv.toRooms("session-unshared", map[string]string{"sessionId": p.SessionID}, userRoom(guest.UserID))
	})
}

// list-shares {sessionId}
func (c *client) listShares(m *socketio.Message, r *reply) {
	var p struct {
		SessionID string `json:"sessionId"`
	}
	if !decodeSessionEvent(m, r, &p, &p.SessionID) {
		return
	}
	c.goWork(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		list, err := c.srv.Sessions.Shares(ctx, c.user.ID, p.SessionID)
		if err != nil {
			r.fail(sessionError(p.SessionID, err))
			return
		}
		out := make([]shareJSON, 0, len(list))
		for _, sh := range list {
			name := ""
			if u, err := c.srv.Store.UserByID(ctx, sh.GuestID); err == nil {
				name = u.Name
			}
			out = append(out, shareJSON{SessionID: sh.SessionID, User: name, Role: string(sh.Role), ExpiresAt: expiry(sh.ExpiresAt)})
		}
		r.ok(map[string]any{"sessionId": p.SessionID, "shares": out})
	})
}

// listSharedREST is GET /api/shared: the live sessions shared with the user.
func (s *Server) listSharedREST(w http.ResponseWriter, r *http.Request, u *store.User) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	out := []sharedJSON{}
	if s.Sessions != nil {
		list, err := s.Sessions.SharedWith(ctx, u.ID)
		if err != nil {
			s.Log.Error("list shared sessions", "err", err)
			writeError(w, http.StatusInternalServerError, CodeInternal, "Internal error")
			return
		}
		for _, sh := range list {
			out = append(out, s.sharedOf(ctx, sh))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}
