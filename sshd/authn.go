package sshd

import (
	"net"
	"strings"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// userExt carries the authenticated user's id from the key callback to the handlers.
const userExt = "codeterm-user-id"

// splitLogin parses "alice" or "alice+WORKSPACE".
func splitLogin(login string) (user, workspace string) {
	user, workspace, _ = strings.Cut(login, "+")
	return user, workspace
}

func remoteHost(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// publicKey accepts a key registered to the user named in the login. The store
// is read on every attempt, so keys added while the server runs work at once.
// An address that failed too often is refused even with a good key until its
// budget refills.
func (s *Server) publicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	host := remoteHost(ctx.RemoteAddr())
	name, _ := splitLogin(ctx.User())
	fp := gossh.FingerprintSHA256(key)
	if s.AuthLimiter.Exhausted(host) {
		s.counters.authFailure(authRateLimited)
		s.Log.Warn("ssh auth refused: too many failures from address", "remote", host, "user", name)
		return false
	}
	u, err := s.Auth.UserByKey(ctx, key)
	if err != nil || u.Name != name {
		if err != nil {
			s.counters.authFailure(authUnknownKey)
		} else {
			s.counters.authFailure(authWrongUser)
		}
		s.AuthLimiter.Allow(host) // spend one failure
		s.Log.Info("ssh auth failed", "remote", host, "user", name, "key", fp)
		return false
	}
	perms := ctx.Permissions()
	if perms.Extensions == nil {
		perms.Extensions = map[string]string{}
	}
	perms.Extensions[userExt] = u.ID
	s.Log.Info("ssh auth ok", "remote", host, "user", name, "key", fp)
	return true
}
