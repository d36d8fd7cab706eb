package sessions

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/codeterm/codeterm/internal/pidtest"
)

// The attack: a session whose shell has exited while a job it left holds
// the terminal hangs that job's session up, then kills it, by the shell's
// session id. Were the shell reaped first, its pid would be free, and on a
// machine with pid_max 32768 another user's new shell soon has it (and so
// the same session id): the hang-up would end that shell. Here the other
// shell is given the pid on purpose (through ns_last_pid, root only) as
// soon as the session's shell has exited, and must outlive the session's
// end. With the shell kept a zombie until the session is over, the pid
// cannot be given out at all, which the test also checks.
func TestNoSignalToAReusedPid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to choose a pid (ns_last_pid)")
	}
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid missing")
	}
	e := newTestEnv(t, Config{KillGrace: 300 * time.Millisecond})
	s := e.create(0)
	c := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: 0})))
	// A job in a session of its own keeps the terminal open after the
	// shell exits, so the end waits and then signals.
	input(t, c.a, "setsid sh -c 'echo HOLDER=$$; exec sleep 600' & sleep 0.2; exit\n")
	re := regexp.MustCompile(`HOLDER=(\d+)`)
	c.waitUntil("the holder's pid", func() bool { return re.Match(c.all) })
	c.mu.Lock()
	holder, _ := strconv.Atoi(string(re.FindSubmatch(c.all)[1]))
	c.mu.Unlock()
	t.Cleanup(func() { syscall.Kill(holder, syscall.SIGKILL) })

	shell := s.Info().PID
	deadline := time.Now().Add(waitTimeout)
	for !exitedOrGone(shell) {
		if time.Now().After(deadline) {
			t.Fatal("the shell did not exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Another shell, a session leader, given the exited shell's pid if
	// the kernel will hand it out. Other processes may take the pid we
	// aim for first: a few tries, while the shell is reaped and its
	// session still ending.
	held := func() bool {
		if zombie(shell) {
			t.Log("the exited shell is kept a zombie: its pid cannot be handed out")
			return true
		}
		return false
	}
	victim := pidtest.HandOn(t, shell, func() *exec.Cmd {
		cmd := exec.Command("sleep", "600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		return cmd
	}, held)
	waitDone(t, s)
	if victim == nil {
		return
	}
	if exitedOrGone(victim.Process.Pid) {
		t.Fatalf("the process given the exited shell's pid %d was killed by the session's end", shell)
	}
	t.Fatalf("the exited shell's pid %d was handed to another process while its session was ending", shell)
}

// exitedOrGone reports whether pid is a zombie or no longer exists.
func exitedOrGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
