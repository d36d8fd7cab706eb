package sshd

import (
	"errors"
	"io"

	"github.com/charmbracelet/ssh"
	"github.com/pkg/sftp"
)

// sftp serves the sftp subsystem for the login alice+WORKSPACE. It starts
// in HOME, as OpenSSH's does: OpenSSH's sftp and scp take "~/" to mean the
// start directory, and "~" is HOME everywhere else (exec, git, scp -O,
// rsync). The workspace is ~/ws/WORKSPACE.
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
	home := s.homeDir(u)
	front := newSFTPFront(sess, home)
	srv, err := sftp.NewServer(front, sftp.WithServerWorkingDirectory(home))
	if err != nil {
		s.fail(sess, "codeterm: sftp: %v", err)
		return
	}
	s.Log.Info("sftp", "user", u.Name, "workspace", ws.Name, "remote", sess.RemoteAddr().String())
	go front.pump()
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		s.Log.Debug("sftp ended", "err", err)
	}
	front.Close()
	// Not srv.Close: it closes the channel, and the client must first get
	// exit-status (scp reports failure without it). Serve has closed its files.
	sess.Exit(0)
}
