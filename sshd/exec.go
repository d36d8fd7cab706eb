package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/charmbracelet/ssh"
	"github.com/creack/pty"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/codeterm/codeterm/internal/procwait"
	"github.com/codeterm/codeterm/isolation"
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
	// command and whatever it started, signalled only until it is reaped.
	group := procwait.NewGroup(cmd)
	cmd.Cancel = func() error { return group.Signal(syscall.SIGKILL) }
	cmd.Dir = ws.LocalPath
	acct := accountOf(sess)
	acct.Apply(cmd)
	// Registered with the core for as long as it runs, so that git in it
	// gets GitHub credentials as a session's shell does.
	credEnv, done := s.Sessions.Exec(u.ID)
	defer done()
	cmd.Env = append(s.execEnv(sess, u, shellPath), credEnv...)
	if sock, bin, err := s.localSocket(u, acct); err != nil {
		s.Log.Warn("attach socket", "user", u.Name, "err", err)
	} else {
		// codeterm attach, for mosh and plain shells: the command on PATH
		// and the user's socket.
		cmd.Env = append(prependPath(cmd.Env, bin), AttachSockVar+"="+sock)
	}
	if ssh.AgentRequested(sess) {
		sock, stop, err := forwardAgent(sess, acct)
		if err != nil {
			s.Log.Warn("agent forwarding", "err", err)
		} else {
			defer stop()
			cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+sock)
		}
	}
	s.Log.Info("ssh exec", "user", u.Name, "workspace", ws.Name, "pty", s.hasPty(sess), "remote", sess.RemoteAddr().String())

	var werr error
	if p, ok := s.pty(sess); ok {
		werr = runWithPty(sess, cmd, group, p, acct)
	} else {
		werr = runPiped(sess, cmd, group, acct)
	}
	// The command's credential ends with it, before the client hears of
	// the end (done is idempotent; the defer covers the early returns).
	done()
	status, sig, err := waitStatus(werr)
	if err != nil {
		s.fail(sess, "codeterm: %v", err)
		return
	}
	if sig != 0 {
		exitSignal(sess, unix.SignalName(sig), status)
		return
	}
	sess.Exit(status)
}

func (s *Server) hasPty(sess ssh.Session) bool { _, ok := s.pty(sess); return ok }

// execEnv is the allow-listed environment plus what OpenSSH sets for a session.
func (s *Server) execEnv(sess ssh.Session, u *store.User, shellPath string) []string {
	cenv := clientEnv(sess)
	env := sessions.Environ(sessions.SpawnOptions{Home: s.home(u), Env: cenv, Account: accountOf(sess)}, shellPath)
	if !hasVar(cenv, "TERM") {
		// Without a PTY and no TERM from the client, leave TERM (and a
		// COLORTERM the client did not send) unset as sshd does, so
		// scripts see a dumb stream.
		env = slices.DeleteFunc(env, func(kv string) bool {
			return strings.HasPrefix(kv, "TERM=") || strings.HasPrefix(kv, "COLORTERM=") && !hasVar(cenv, "COLORTERM")
		})
	}
	rh, rp := splitHostPort(sess.RemoteAddr().String())
	lh, lp := splitHostPort(sess.LocalAddr().String())
	return append(env,
		fmt.Sprintf("SSH_CLIENT=%s %s %s", rh, rp, lp),
		fmt.Sprintf("SSH_CONNECTION=%s %s %s %s", rh, rp, lh, lp),
	)
}

// prependPath puts dir first on env's PATH.
func prependPath(env []string, dir string) []string {
	for i, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + dir + string(os.PathListSeparator) + p
			return env
		}
	}
	return append(env, "PATH="+dir)
}

// runPiped runs cmd on the channel's streams. stdin is copied by hand so that
// a client that never closes stdin cannot keep Wait from returning, and EOF
// from the client closes the child's stdin.
func runPiped(sess ssh.Session, cmd *exec.Cmd, group *procwait.Group, acct *isolation.Account) error {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = sess
	cmd.Stderr = sess.Stderr()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	if err := acct.Start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		io.Copy(stdin, sess)
		stdin.Close()
	}()
	defer forwardSignals(sess, group)()
	return group.Wait()
}

// runWithPty runs cmd on a PTY of its own, passing raw bytes both ways.
func runWithPty(sess ssh.Session, cmd *exec.Cmd, group *procwait.Group, p ssh.Pty, acct *isolation.Account) error {
	f, err := startPty(cmd, p.Window, acct)
	if err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	defer f.Close()
	stopWindows := onWindowChange(sess, func(w ssh.Window) {
		pty.Setsize(f, winsize(w))
	})
	defer drainWindows(sess)
	defer stopWindows() // before f.Close: deferred calls run last-in first-out
	go io.Copy(f, sess)
	defer forwardSignals(sess, group)()
	// Read until EIO: the slave is closed when the last process holding it
	// exits, and only then is every byte of output read.
	io.Copy(sess, f)
	return group.Wait()
}

// winsize is a client's window size, bounded as shared sessions bound it:
// a PTY of 65535 columns would cost every full-screen program dearly.
func winsize(w ssh.Window) *pty.Winsize {
	cols, rows := sessions.ClampSize(w.Width, w.Height)
	return &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}
}

// waitStatus turns Wait's error into an exit status, or the signal that
// killed the command.
func waitStatus(err error) (status int, sig syscall.Signal, _ error) {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), ws.Signal(), nil
		}
		return ee.ExitCode(), 0, nil
	}
	return 0, 0, err
}

// exitSignal ends the channel as OpenSSH's sshd does for a command killed by
// a signal ("SIGKILL" style name): an exit-signal request (RFC 4254 6.10)
// with the signal's SSH name instead of an exit status, so the client
// reports the signal. A signal without an SSH name gets status instead.
func exitSignal(sess ssh.Session, name string, status int) {
	name = strings.TrimPrefix(name, "SIG")
	if _, ok := signals[ssh.Signal(name)]; !ok {
		sess.Exit(status)
		return
	}
	msg := struct {
		Signal     string
		CoreDumped bool
		Message    string
		Lang       string
	}{Signal: name}
	sess.SendRequest("exit-signal", false, gossh.Marshal(&msg))
	// Closing the channel here leaves the library's own exit-status, sent
	// when the handler returns, to fail on a closed channel: the client
	// hears of the signal alone.
	sess.Close()
}

// forwardSignals delivers the client's signal requests to the command's
// process group (until it is reaped: see procwait).
func forwardSignals(sess ssh.Session, group *procwait.Group) (stop func()) {
	ch := make(chan ssh.Signal, 8)
	sess.Signals(ch)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				if n, ok := signals[sig]; ok {
					group.Signal(n)
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

// startPty starts cmd as acct on a new PTY of the window's size, in a new
// session whose controlling terminal it is, and returns the master.
func startPty(cmd *exec.Cmd, w ssh.Window, acct *isolation.Account) (*os.File, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer tty.Close() // the child holds its own copy
	if err := sessions.GiveTTY(tty, acct); err != nil {
		ptmx.Close()
		return nil, err
	}
	if err := pty.Setsize(ptmx, winsize(w)); err != nil {
		ptmx.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	if err := acct.Start(cmd); err != nil {
		ptmx.Close()
		return nil, err
	}
	return ptmx, nil
}

// forwardAgent serves the client's agent on a fresh unix socket, in a
// directory of acct's own (mode 0700, the socket 0600) so that only the
// account's processes reach it.
func forwardAgent(sess ssh.Session, acct *isolation.Account) (sock string, stop func(), err error) {
	l, err := ssh.NewAgentListener()
	if err != nil {
		return "", nil, err
	}
	sock = l.Addr().String()
	stop = func() { l.Close(); os.RemoveAll(filepath.Dir(sock)) }
	if err := acct.GiveSocket(sock); err != nil {
		stop()
		return "", nil, err
	}
	if err := acct.Chown(filepath.Dir(sock)); err != nil {
		stop()
		return "", nil, err
	}
	go ssh.ForwardAgentConnections(l, sess)
	return sock, stop, nil
}
