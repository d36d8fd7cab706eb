package sshd

import (
	"net"
	"strconv"
	"strings"
	"time"

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
// A good key is always accepted at once, whatever failed before it from
// the same address; a failure's answer is held back once its address or
// attempted user failed too often (see auth.Throttle).
func (s *Server) publicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	host := remoteHost(ctx.RemoteAddr())
	name, _ := splitLogin(ctx.User())
	fp := gossh.FingerprintSHA256(key)
	u, err := s.Auth.UserByKey(ctx, key)
	if err != nil || u.Name != name {
		if err != nil {
			s.counters.authFailure(authUnknownKey)
		} else {
			s.counters.authFailure(authWrongUser)
		}
		hold := s.AuthThrottle.Fail("addr "+host, "user "+name)
		s.Log.Info("ssh auth failed", "remote", host, "user", name, "key", fp, "hold", hold)
		if hold > 0 {
			t := time.NewTimer(hold)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		return false
	}
	perms := ctx.Permissions()
	if perms.Extensions == nil {
		perms.Extensions = map[string]string{}
	}
	perms.Extensions[userExt] = u.ID
	perms.Extensions[keyExt] = fp
	perms.Extensions[authAtExt] = strconv.FormatInt(time.Now().UnixNano(), 10)
	s.Log.Info("ssh auth ok", "remote", host, "user", name, "key", fp)
	return true
}
