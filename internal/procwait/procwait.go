// Package procwait signals a child's process group, or its session, only
// while the child is not reaped. A reaped child's pid goes back to the
// kernel, and with it the group and session ids its jobs carried: on a
// machine with pid_max 32768 and processes coming and going, the number
// soon names another user's shell, and a signal sent by the old number
// after a reap (a hang-up for leftover jobs, a client's signal request
// that raced the exit) would reach it. While the child is a zombie its pid
// cannot be reused, so the way out is to learn of the exit first (Exited),
// finish with the group, then reap.
package procwait

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exited waits until the child pid has exited and leaves it unreaped: a
// zombie, whose pid, group id and session id stay its own.
func Exited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Group is a started command's process group (the command is its leader:
// Setpgid or Setsid), signalled by its id only until the command is reaped.
type Group struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	reaped bool
}

// NewGroup returns the group of cmd, which has been started.
func NewGroup(cmd *exec.Cmd) *Group { return &Group{cmd: cmd} }

// Signal sends sig to every process of the group, or returns
// os.ErrProcessDone once the leader is reaped (or about to be).
func (g *Group) Signal(sig syscall.Signal) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reaped {
		return os.ErrProcessDone
	}
	return syscall.Kill(-g.cmd.Process.Pid, sig)
}

// Wait waits for the leader to exit, stops Signal, then reaps it with
// cmd.Wait (which also waits for the command's I/O) and returns what that
// returns.
func (g *Group) Wait() error {
	if err := Exited(g.cmd.Process.Pid); err != nil && !errors.Is(err, unix.ECHILD) {
		return err
	}
	g.mu.Lock()
	g.reaped = true
	g.mu.Unlock()
	return g.cmd.Wait()
}
