package isolation

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/codeterm/codeterm/internal/pidtest"
)

// The attack: `codeterm user rm` kills every process of the removed user's
// account, by pids listed from /proc. Between the listing and the kill a
// listed process may exit and its pid go to another user's new process
// (pid_max is 32768 here, so pids come round quickly): a SIGKILL by the
// listed number would end that process. Here the pid is handed on at that
// moment on purpose (through ns_last_pid, root only) to a process of root,
// which must outlive the kill.
func TestKillAllSparesAReusedPid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another uid and to choose a pid (ns_last_pid)")
	}
	const uid = 54321 // no account needed: the kernel takes any uid
	victim := startSleep(t, &syscall.Credential{Uid: uid, Gid: uid})
	pid := victim.Process.Pid

	var reused *exec.Cmd
	handedOn := false
	listed := func(pids []int) {
		if handedOn {
			return
		}
		handedOn = true
		found := false
		for _, p := range pids {
			found = found || p == pid
		}
		if !found {
			t.Errorf("uid %d's process %d was not listed (listed %v)", uid, pid, pids)
			return
		}
		// The listed process ends and is reaped, and root's next process
		// gets its pid, if no other process takes it first.
		victim.Process.Kill()
		victim.Wait()
		reused = pidtest.HandOn(t, pid, func() *exec.Cmd { return exec.Command("sleep", "600") }, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := killAll(ctx, uid, listed); err != nil {
		t.Fatal(err)
	}
	if reused == nil {
		t.Skipf("pid %d went to another process before this test's", pid)
	}
	if err := reused.Process.Signal(syscall.Signal(0)); err != nil || exited(pid) {
		t.Fatalf("root's process given the listed pid %d was killed", pid)
	}
}

// startSleep starts a long sleep, as cred if not nil, ended at cleanup.
func startSleep(t *testing.T, cred *syscall.Credential) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// exited reports whether pid is a zombie (killed, not yet reaped) or gone.
func exited(pid int) bool {
	_, zombie := ownedBy(pid, 0)
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return zombie || err != nil
}
