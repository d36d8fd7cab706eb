package sshd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/isolation"
	"github.com/codeterm/codeterm/store"
)

// Local attach: `codeterm attach WORKSPACE`, run inside a workspace login (a
// mosh session, a plain shell), reaches the user's shared session through a
// unix socket of that user's. The socket speaks SSH to this same server, so
// the attachment is an ordinary SSH one (PTY, window changes, exit status);
// the socket a connection came in on names its user, in place of a key.

// AttachSockVar names the socket in the environment of commands on the
// workspace login.
const AttachSockVar = "CODETERM_ATTACH_SOCK"

// localKey stands for the key of a connection from an attach socket: it
// holds while its user exists and is not revoked.
const localKey = "attach-socket"

// localConn is a connection accepted on a user's attach socket.
type localConn struct {
	net.Conn
	userID string
}

type localUserKey struct{}

// localSocket returns the path of the user's attach socket, listening from
// its first use until Shutdown, and the directory that holds a "codeterm"
// command for PATH.
//
// With OS accounts the directory is 0711 (each user reaches only the socket
// they are given), the socket is the account's, mode 0600, and a connection
// from any other uid is refused: the socket stands in for the user's key.
func (s *Server) localSocket(u *store.User, acct *isolation.Account) (sock, binDir string, err error) {
	s.localMu.Lock()
	defer s.localMu.Unlock()
	if s.localDir == "" {
		dir, err := os.MkdirTemp("", "codeterm-attach-")
		if err != nil {
			return "", "", fmt.Errorf("attach socket dir: %w", err)
		}
		exe := s.Executable
		if exe == "" {
			if exe, err = os.Executable(); err != nil {
				os.RemoveAll(dir)
				return "", "", fmt.Errorf("attach: codeterm binary: %w", err)
			}
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			os.RemoveAll(dir)
			return "", "", fmt.Errorf("attach socket dir: %w", err)
		}
		bin := filepath.Join(dir, "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			os.RemoveAll(dir)
			return "", "", fmt.Errorf("attach: %w", err)
		}
		if err := os.Symlink(exe, filepath.Join(bin, "codeterm")); err != nil {
			os.RemoveAll(dir)
			return "", "", fmt.Errorf("attach: %w", err)
		}
		s.localDir = dir
		s.locals = map[string]net.Listener{}
	}
	binDir = filepath.Join(s.localDir, "bin")
	if ln, ok := s.locals[u.ID]; ok {
		return ln.Addr().String(), binDir, nil
	}
	// Named by the user's position, not their name: a unix socket path is
	// short and names can be 32 characters.
	sock = filepath.Join(s.localDir, fmt.Sprintf("u%d.sock", len(s.locals)))
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return "", "", fmt.Errorf("attach socket: %w", err)
	}
	if err := acct.GiveSocket(sock); err != nil {
		ln.Close()
		return "", "", fmt.Errorf("attach socket: %w", err)
	}
	s.locals[u.ID] = ln
	go s.serveLocal(ln, u.ID, acct)
	return sock, binDir, nil
}

func (s *Server) serveLocal(ln net.Listener, userID string, acct *isolation.Account) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.Log.Warn("attach socket", "err", err)
			}
			return
		}
		if uc, ok := c.(*net.UnixConn); ok {
			if uid, err := isolation.PeerUID(uc); err != nil || !acct.Owns(uid) {
				s.Log.Warn("attach socket: connection from another OS user refused", "uid", uid)
				c.Close()
				continue
			}
		}
		go s.srv.HandleConn(&localConn{Conn: c, userID: userID})
	}
}

// closeLocal stops every attach socket.
func (s *Server) closeLocal() {
	s.localMu.Lock()
	defer s.localMu.Unlock()
	for _, ln := range s.locals {
		ln.Close()
	}
	if s.localDir != "" {
		os.RemoveAll(s.localDir)
	}
	s.locals, s.localDir = nil, ""
}

// localAuth lets a connection from an attach socket in as the socket's user.
func localAuth(ctx ssh.Context, cfg *gossh.ServerConfig) {
	id, ok := ctx.Value(localUserKey{}).(string)
	if !ok {
		return
	}
	cfg.NoClientAuth = true
	cfg.NoClientAuthCallback = func(gossh.ConnMetadata) (*gossh.Permissions, error) {
		return &gossh.Permissions{Extensions: map[string]string{
			userExt:   id,
			keyExt:    localKey,
			authAtExt: strconv.FormatInt(time.Now().UnixNano(), 10),
		}}, nil
	}
}
