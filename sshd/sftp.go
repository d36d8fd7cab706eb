package sshd

import (
	"errors"
	"io"
	"os"
	"os/exec"

	"github.com/charmbracelet/ssh"
	"github.com/pkg/sftp"
)

// sftp serves the sftp subsystem in the workspace named by the login
// (alice+WORKSPACE); relative paths start there. With an OS account of the
// user's own it runs in a child process with that account's credentials
// (`codeterm sftp-server`, see ServeSFTP), so the kernel checks every path.
func (s *Server) sftp(sess ssh.Session) {
	u, err := s.sessionUser(sess)
	if err != nil {
		s.fail(sess, "codeterm: %v", err)
		return
	}
	if !s.resolveAccount(sess, u) {
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
	s.Log.Info("sftp", "user", u.Name, "workspace", ws.Name, "remote", sess.RemoteAddr().String())
	if acct := accountOf(sess); acct != nil {
		if s.Helper == "" {
			s.fail(sess, "codeterm: sftp is not available (no helper executable)")
			return
		}
		cmd := exec.Command(s.Helper, "sftp-server")
		cmd.Dir = ws.LocalPath
		cmd.Env = []string{"HOME=" + acct.Home, "USER=" + acct.Name, "LOGNAME=" + acct.Name, "PATH=/usr/local/bin:/usr/bin:/bin"}
		acct.Apply(cmd)
		status, err := runPiped(sess, cmd, acct)
		if err != nil {
			s.fail(sess, "codeterm: sftp: %v", err)
			return
		}
		sess.Exit(status)
		return
	}
	if err := ServeSFTP(sess, ws.LocalPath); err != nil {
		s.Log.Debug("sftp ended", "err", err)
	}
	// Not srv.Close: it closes the channel, and the client must first get
	// exit-status (scp reports failure without it). Serve has closed its files.
	sess.Exit(0)
}

// ServeSFTP serves one sftp session on rw with relative paths starting at
// dir, until the client ends it. `codeterm sftp-server` runs it on its
// stdin and stdout as a user's OS account.
func ServeSFTP(rw io.ReadWriteCloser, dir string) error {
	srv, err := sftp.NewServer(rw, sftp.WithServerWorkingDirectory(dir))
	if err != nil {
		return err
	}
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// stdio is a process's stdin and stdout as one stream.
type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error                { return nil }

// ServeSFTPStdio is ServeSFTP on the process's stdin and stdout, in its
// working directory.
func ServeSFTPStdio() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	return ServeSFTP(stdio{}, dir)
}
