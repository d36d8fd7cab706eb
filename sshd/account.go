package sshd

import (
	"errors"

	"github.com/charmbracelet/ssh"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// accountKey holds, in a connection's context, the OS account its user's
// processes run as (an *accountBox, so that "resolved to nil" is kept too).
type accountKey struct{}

type accountBox struct{ acct *isolation.Account }

// connAccount finds the OS account of the connection's user (see
// Server.Accounts) once and keeps it in the connection's context for
// everything started on it; nil: the server's user.
func (s *Server) connAccount(ctx ssh.Context, u *store.User) (*isolation.Account, error) {
	if b, ok := ctx.Value(accountKey{}).(*accountBox); ok {
		return b.acct, nil
	}
	if s.Accounts == nil {
		return nil, nil
	}
	if u == nil {
		id := ctx.Permissions().Extensions[userExt]
		if id == "" {
			return nil, errors.New("not authenticated")
		}
		var err error
		if u, err = s.Store.UserByID(ctx, id); err != nil {
			return nil, err
		}
	}
	acct, err := s.Accounts.For(ctx, u)
	if err != nil {
		s.Log.Error("os account", "user", u.Name, "err", err)
		return nil, err
	}
	ctx.SetValue(accountKey{}, &accountBox{acct})
	return acct, nil
}

// resolveAccount is connAccount for a session channel: on failure it ends
// the channel and returns false.
func (s *Server) resolveAccount(sess ssh.Session, u *store.User) bool {
	if _, err := s.connAccount(sess.Context(), u); err != nil {
		s.fail(sess, "codeterm: your OS account is not available; ask the administrator")
		return false
	}
	return true
}

// accountOf is the account resolveAccount found; nil: the server's user.
func accountOf(sess ssh.Session) *isolation.Account {
	b, _ := sess.Context().Value(accountKey{}).(*accountBox)
	if b == nil {
		return nil
	}
	return b.acct
}
