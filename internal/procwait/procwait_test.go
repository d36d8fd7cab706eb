package procwait

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func state(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// Exited returns with the child a zombie; the group is signalled until
// Wait, which reaps it and returns its status; after that Signal sends
// nothing.
func TestGroup(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := NewGroup(cmd)
	pid := cmd.Process.Pid
	if err := Exited(pid); err != nil {
		t.Fatal(err)
	}
	if st := state(pid); st != "Z" {
		t.Fatalf("after Exited the child is %q, want a zombie (Z)", st)
	}
	if err := g.Signal(0); err != nil {
		t.Fatalf("signal to the unreaped group: %v", err)
	}
	var ee *exec.ExitError
	if err := g.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Wait: %v, want exit status 3", err)
	}
	if st := state(pid); st == "Z" {
		t.Fatal("still a zombie after Wait")
	}
	if err := g.Signal(syscall.SIGKILL); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("signal after the reap: %v, want os.ErrProcessDone", err)
	}
}
