package sshd

import (
	"errors"
	"io"

	"github.com/charmbracelet/ssh"
	"github.com/pkg/sftp"
)

// sftp serves the sftp subsystem in the workspace named by the login
// (alice+WORKSPACE); relative paths start there.
func (s *Server) sftp(sess ssh.Session) {
	u, err := s.sessionUser(sess)
	if err != nil {
		s.fail(sess, "codeterm: %v", err)
		return
	}
	_, wsName := splitLogin(sess.User())
	if wsName == "" {
		s.fail(sess, "codeterm: sftp needs a workspace in the login name: sftp -P PORT %s+WORKSPACE@HOST", u.Name)
		return
	}
	ws, ok := s.workspace(sess, u, wsName)
	if !ok {
		return
	}
	srv, err := sftp.NewServer(sess, sftp.WithServerWorkingDirectory(ws.LocalPath))
	if err != nil {
		s.fail(sess, "codeterm: sftp: %v", err)
		return
	}
	s.Log.Info("sftp", "user", u.Name, "workspace", ws.Name, "remote", sess.RemoteAddr().String())
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		s.Log.Debug("sftp ended", "err", err)
	}
	// Not srv.Close: it closes the channel, and the client must first get
	// exit-status (scp reports failure without it). Serve has closed its files.
	sess.Exit(0)
}
