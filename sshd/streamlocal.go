package sshd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// streamLocalForward serves streamlocal-forward@openssh.com (ssh -R
// /path/sock:...): a unix socket in the user's HOME or one of their
// workspaces, owned by this connection alone, as -R to a TCP port is.
func (s *Server) streamLocalForward(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	var r struct{ SocketPath string }
	if err := gossh.Unmarshal(req.Payload, &r); err != nil || r.SocketPath == "" {
		return false, nil
	}
	c := connOf(ctx)
	id, ok := c.identity()
	if !ok || !s.allowed(ctx) {
		return false, nil
	}
	u, err := s.Store.UserByID(ctx, id.userID)
	if err != nil {
		return false, nil
	}
	acct, err := s.connAccount(ctx, u)
	if err != nil {
		return false, nil
	}
	roots, err := s.socketRoots(ctx, u, acct)
	if err != nil {
		s.Log.Warn("ssh streamlocal-forward", "user", u.Name, "err", err)
		return false, nil
	}
	path := r.SocketPath
	if !filepath.IsAbs(path) {
		path = filepath.Join(roots[0], path) // relative to HOME, as sshd does
	}
	owner := func(fd int) error { return nil }
	switch {
	case s.SocketOwner != nil:
		if uid, gid, ok := s.SocketOwner(u); ok {
			owner = func(fd int) error { return chownFd(fd, uid, gid) }
		}
	case acct != nil:
		owner = func(fd int) error { return chownFd(fd, int(acct.UID), int(acct.GID)) }
	}
	sl, err := listenUnixIn(filepath.Clean(path), roots, owner)
	if err != nil {
		s.Log.Warn("ssh streamlocal-forward refused", "user", u.Name, "path", r.SocketPath, "err", err)
		return false, nil
	}
	key := "unix:" + r.SocketPath
	if !c.addListener(key, sl) {
		sl.Close()
		return false, nil
	}
	s.Log.Info("ssh streamlocal-forward", "user", u.Name, "path", path, "remote", ctx.RemoteAddr().String())
	go func() {
		payload := gossh.Marshal(&struct{ SocketPath, Reserved string }{r.SocketPath, ""})
		s.serveForward(ctx, c, sl, "forwarded-streamlocal@openssh.com", func(net.Conn) []byte { return payload })
		c.removeListener(key, sl)
		sl.Close()
	}()
	return true, nil
}

// cancelStreamLocalForward closes one of this connection's unix-socket forwards.
func (s *Server) cancelStreamLocalForward(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	var r struct{ SocketPath string }
	if err := gossh.Unmarshal(req.Payload, &r); err != nil {
		return false, nil
	}
	return connOf(ctx).closeListener("unix:" + r.SocketPath), nil
}

// socketRoots are the directories a user's forwarded sockets may live
// under: HOME first, then each workspace.
func (s *Server) socketRoots(ctx ssh.Context, u *store.User, acct *isolation.Account) ([]string, error) {
	home := s.home(u)
	if acct != nil && acct.Home != "" {
		home = acct.Home
	}
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return nil, fmt.Errorf("home: %w", err)
		}
	}
	list, err := s.Store.Workspaces(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	roots := []string{home}
	for _, ws := range list {
		roots = append(roots, ws.LocalPath)
	}
	return roots, nil
}

var errOutsideRoots = errors.New("socket path is outside HOME and the workspaces")

// within reports whether dir is one of roots or below one, comparing
// paths with symbolic links resolved.
func within(dir string, roots []string) bool {
	for _, r := range roots {
		real, err := filepath.EvalSymlinks(r)
		if err != nil {
			continue
		}
		if dir == real || strings.HasPrefix(dir, real+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
