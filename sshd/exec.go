package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/charmbracelet/ssh"
	"github.com/creack/pty"

	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
)

// exec runs command with the user's shell in the workspace, as OpenSSH does:
// "$SHELL -c command", or for an empty command a login shell reading stdin.
// It is private to this channel (not a shared session). With a PTY request the
// command gets a PTY of its own; without, stdin, stdout and stderr are the
// channel's streams, byte for byte, and all output is sent before exit-status.
func (s *Server) exec(sess ssh.Session, u *store.User, ws *store.Workspace, command string) {
	_, shellPath, err := sessions.ResolveShell("")
	if err != nil {
		s.fail(sess, "codeterm: no shell: %v", err)
		return
	}
	// A closed connection leaves the command running, as with OpenSSH;
	// withdrawn access (user or key removed, user revoked) kills it.
	var withdrawn context.Context = sess.Context()
	if c := connOf(sess.Context()); c != nil {
		withdrawn = c.withdrawn
	}
	var cmd *exec.Cmd
	if command == "" {
		cmd = exec.CommandContext(withdrawn, shellPath)
		cmd.Args[0] = "-" + filepath.Base(shellPath) // a login shell, as sshd starts one
	} else {
		cmd = exec.CommandContext(withdrawn, shellPath, "-c", command)
	}
	// Both ways of running start a new session: its process group is the
	// command and whatever it started.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Dir = ws.LocalPath
	// Registered with the core for as long as it runs, so that git in it
	// gets GitHub credentials as a session's shell does.
	credEnv, done := s.Sessions.Exec(u.ID)
	defer done()
	cmd.Env = append(s.execEnv(sess, u, shellPath), credEnv...)
	if ssh.AgentRequested(sess) {
		sock, stop, err := forwardAgent(sess)
		if err != nil {
			s.Log.Warn("agent forwarding", "err", err)
		} else {
			defer stop()
			cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+sock)
		}
	}
	s.Log.Info("ssh exec", "user", u.Name, "workspace", ws.Name, "pty", s.hasPty(sess), "remote", sess.RemoteAddr().String())

	var status int
	if p, ok := s.pty(sess); ok {
		status, err = runWithPty(sess, cmd, p)
	} else {
		status, err = runPiped(sess, cmd)
	}
	// The command's credential ends with it, before the client hears of
	// the end (done is idempotent; the defer covers the early returns).
	done()
	if err != nil {
		s.fail(sess, "codeterm: %v", err)
		return
	}
	sess.Exit(status)
}

func (s *Server) hasPty(sess ssh.Session) bool { _, ok := s.pty(sess); return ok }

// execEnv is the allow-listed environment plus what OpenSSH sets for a session.
func (s *Server) execEnv(sess ssh.Session, u *store.User, shellPath string) []string {
	env := sessions.Environ(sessions.SpawnOptions{Home: s.home(u), Env: clientEnv(sess)}, shellPath)
	term := ""
	if p, ok := s.pty(sess); ok {
		term = p.Term
	}
	for _, kv := range sess.Environ() {
		if v, ok := strings.CutPrefix(kv, "TERM="); ok && term == "" {
			term = v
		}
	}
	out := env[:0]
	for _, kv := range env {
		// Without a PTY and no TERM from the client, leave TERM and
		// COLORTERM unset as sshd does, so scripts see a dumb stream.
		if term == "" && (strings.HasPrefix(kv, "TERM=") || strings.HasPrefix(kv, "COLORTERM=")) {
			continue
		}
		if term != "" && strings.HasPrefix(kv, "TERM=") {
			kv = "TERM=" + term
		}
		out = append(out, kv)
	}
	rh, rp := splitHostPort(sess.RemoteAddr().String())
	lh, lp := splitHostPort(sess.LocalAddr().String())
	return append(out,
		fmt.Sprintf("SSH_CLIENT=%s %s %s", rh, rp, lp),
		fmt.Sprintf("SSH_CONNECTION=%s %s %s %s", rh, rp, lh, lp),
	)
}

// runPiped runs cmd on the channel's streams. stdin is copied by hand so that
// a client that never closes stdin cannot keep Wait from returning, and EOF
// from the client closes the child's stdin.
func runPiped(sess ssh.Session, cmd *exec.Cmd) (int, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stdout = sess
	cmd.Stderr = sess.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		io.Copy(stdin, sess)
		stdin.Close()
	}()
	stopSignals := forwardSignals(sess, cmd.Process)
	defer stopSignals()
	return waitStatus(cmd.Wait())
}

// runWithPty runs cmd on a PTY of its own, passing raw bytes both ways.
func runWithPty(sess ssh.Session, cmd *exec.Cmd, p ssh.Pty) (int, error) {
	f, err := pty.StartWithSize(cmd, winsize(p.Window))
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	defer f.Close()
	stopWindows := onWindowChange(sess, func(w ssh.Window) {
		pty.Setsize(f, winsize(w))
	})
	defer stopWindows() // before f.Close: deferred calls run last-in first-out
	go io.Copy(f, sess)
	stopSignals := forwardSignals(sess, cmd.Process)
	defer stopSignals()
	// Read until EIO: the slave is closed when the last process holding it
	// exits, and only then is every byte of output read.
	io.Copy(sess, f)
	return waitStatus(cmd.Wait())
}

// winsize is a client's window size, bounded as shared sessions bound it:
// a PTY of 65535 columns would cost every full-screen program dearly.
func winsize(w ssh.Window) *pty.Winsize {
	cols, rows := sessions.ClampSize(w.Width, w.Height)
	return &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}
}

func waitStatus(err error) (int, error) {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// forwardSignals delivers the client's signal requests to the command's process group.
func forwardSignals(sess ssh.Session, p *os.Process) (stop func()) {
	ch := make(chan ssh.Signal, 8)
	sess.Signals(ch)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				if n, ok := signals[sig]; ok {
					syscall.Kill(-p.Pid, n)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { sess.Signals(nil); close(done) }
}

var signals = map[ssh.Signal]syscall.Signal{
	ssh.SIGABRT: syscall.SIGABRT, ssh.SIGALRM: syscall.SIGALRM, ssh.SIGFPE: syscall.SIGFPE,
	ssh.SIGHUP: syscall.SIGHUP, ssh.SIGILL: syscall.SIGILL, ssh.SIGINT: syscall.SIGINT,
	ssh.SIGKILL: syscall.SIGKILL, ssh.SIGPIPE: syscall.SIGPIPE, ssh.SIGQUIT: syscall.SIGQUIT,
	ssh.SIGSEGV: syscall.SIGSEGV, ssh.SIGTERM: syscall.SIGTERM, ssh.SIGUSR1: syscall.SIGUSR1,
	ssh.SIGUSR2: syscall.SIGUSR2,
}

// forwardAgent serves the client's agent on a fresh unix socket.
func forwardAgent(sess ssh.Session) (sock string, stop func(), err error) {
	l, err := ssh.NewAgentListener()
	if err != nil {
		return "", nil, err
	}
	go ssh.ForwardAgentConnections(l, sess)
	sock = l.Addr().String()
	return sock, func() { l.Close(); os.RemoveAll(filepath.Dir(sock)) }, nil
}
