package sshd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/charmbracelet/ssh"
	"github.com/pkg/sftp"

	"github.com/codeterm/codeterm/isolation"
)

// sftp serves the sftp subsystem for the login alice+WORKSPACE. It starts
// in HOME, as OpenSSH's does: OpenSSH's sftp and scp take "~/" to mean the
// start directory, and "~" is HOME everywhere else (exec, git, scp -O,
// rsync). The workspace is ~/ws/WORKSPACE. With an OS account of the
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
	home := s.homeDir(sess, u)
	s.Log.Info("sftp", "user", u.Name, "workspace", ws.Name, "remote", sess.RemoteAddr().String())
	if acct := accountOf(sess); acct != nil {
		status, err := s.sftpAs(acct, sess, sess.Stderr(), home)
		if err != nil {
			s.fail(sess, "codeterm: sftp: %v", err)
			return
		}
		sess.Exit(status)
		return
	}
	if err := ServeSFTP(sess, home); err != nil {
		s.Log.Debug("sftp ended", "err", err)
	}
	// Not srv.Close: it closes the channel, and the client must first get
	// exit-status (scp reports failure without it). Serve has closed its files.
	sess.Exit(0)
}

// sftpAs runs the sftp server for rw as acct, in a child process
// (`codeterm sftp-server`) started in dir, and returns its exit status. The
// child's stdin is fed by hand so that its end does not wait for the
// client's.
func (s *Server) sftpAs(acct *isolation.Account, rw io.ReadWriter, stderr io.Writer, dir string) (int, error) {
	if s.Executable == "" {
		return 0, errors.New("not available (no helper executable)")
	}
	cmd := exec.Command(s.Executable, "sftp-server")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + acct.Home, "USER=" + acct.Name, "LOGNAME=" + acct.Name, "PATH=/usr/local/bin:/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = rw, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	acct.Apply(cmd)
	if err := acct.Start(cmd); err != nil {
		return 0, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		io.Copy(stdin, rw)
		stdin.Close()
	}()
	status, _, err := waitStatus(cmd.Wait())
	return status, err
}

// ServeSFTP serves one sftp session on rw with relative paths starting at
// dir (the user's HOME), until the client ends it. `codeterm sftp-server`
// runs it on its stdin and stdout as a user's OS account. The front
// (sftpext.go) answers what pkg/sftp gets wrong or lacks.
func ServeSFTP(rw io.ReadWriter, dir string) error {
	front := newSFTPFront(rw, dir)
	srv, err := sftp.NewServer(front, sftp.WithServerWorkingDirectory(dir))
	if err != nil {
		return err
	}
	go front.pump()
	err = srv.Serve()
	front.Close()
	if err != nil && !errors.Is(err, io.EOF) {
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
