package webbridge

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/webbridge/socketio"
)

// authenticate is the namespace middleware: auth.token must be a valid JWT.
// Every refusal carries the same message, whatever the reason; the reason
// goes to the log only.
func (s *Server) authenticate(sock *socketio.Socket, raw json.RawMessage) error {
	refuse := &socketio.ConnectError{Message: authFailedMessage}
	var a struct {
		Token  string `json:"token"`
		Binary any    `json:"binary"` // anything but true keeps the JSON string form
	}
	if err := json.Unmarshal(raw, &a); err != nil || a.Token == "" {
		s.Log.Info("socket refused", "remote", sock.Handshake().RemoteAddr, "reason", "no token")
		return refuse
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	claims, u, err := s.Auth.Verify(ctx, a.Token)
	if err != nil {
		if !errors.Is(err, auth.ErrTokenInvalid) && !errors.Is(err, auth.ErrTokenExpired) && !errors.Is(err, auth.ErrTokenRevoked) {
			s.Log.Error("socket auth", "err", err)
		}
		s.Log.Info("socket refused", "remote", sock.Handshake().RemoteAddr, "reason", err)
		return refuse
	}
	c := &client{
		srv:    s,
		sock:   sock,
		user:   u,
		claims: claims,
		binary: a.Binary == true,
	}
	c.log = clientLog{c}
	sock.Set(clientKey, c)
	return nil
}

// watchExpiry tells the client its token has expired, then disconnects it:
// a long-lived socket must not outlive its credentials.
func (c *client) watchExpiry() {
	if c.claims.ExpiresAt == nil {
		return
	}
	exp := c.claims.ExpiresAt.Time
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	// Stopped by disconnected, not by a context.AfterFunc: that costs
	// every socket a goroutine-less watcher and a children map.
	c.expiry = time.AfterFunc(time.Until(exp), func() {
		c.log.Info("token expired; disconnecting")
		c.emit("session-expired", map[string]string{
			"message":   "Session expired, please login again",
			"expiredAt": timestamp(exp),
		})
		c.sock.Disconnect()
	})
}

// checkUsers re-reads every connected user, one query per user however
// many sockets they have: `codeterm user revoke` and `user delete` run in
// another process and only write the database.
func (s *Server) checkUsers() {
	for userID, clients := range s.hub.clientsByUser() {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		u, err := s.Store.UserByID(ctx, userID)
		cancel()
		switch {
		case errors.Is(err, store.ErrNotFound):
			for _, c := range clients {
				c.log.Info("user no longer exists; disconnecting")
				c.emit("auth-required", map[string]string{"message": "Authentication required"})
				c.sock.Disconnect()
			}
		case err != nil:
			if s.ctx.Err() == nil {
				s.Log.Warn("revocation check", "user", userID, "err", err)
			}
		default:
			for _, c := range clients {
				if c.claims.IssuedAt != nil && c.claims.IssuedAt.Time.Before(u.TokensValidAfter) {
					c.log.Info("user revoked; logging out")
					c.forceLogout("revoked", "You have been logged out: your sessions were revoked")
				}
			}
		}
	}
	s.checkTokens()
}

// checkTokens logs out the sockets whose own token was revoked, by a
// sign-out here or in another server process.
func (s *Server) checkTokens() {
	byID := map[string][]*client{}
	for _, clients := range s.hub.clientsByUser() {
		for _, c := range clients {
			byID[c.claims.ID] = append(byID[c.claims.ID], c)
		}
	}
	if len(byID) == 0 {
		return
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	revoked, err := s.Store.RevokedTokens(ctx, ids)
	if err != nil {
		if s.ctx.Err() == nil {
			s.Log.Warn("token revocation check", "err", err)
		}
		return
	}
	for _, id := range revoked {
		for _, c := range byID[id] {
			c.log.Info("token revoked; logging out")
			c.forceLogout("logout", "You signed out")
		}
	}
}

// forceLogout tells the socket its token is no longer valid and ends it.
func (c *client) forceLogout(reason, message string) {
	c.emit("force-logout", map[string]string{"reason": reason, "message": message})
	c.sock.Disconnect()
}
