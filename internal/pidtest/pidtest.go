// Package pidtest hands a pid that has just been freed to a new process,
// through /proc/sys/kernel/ns_last_pid (root only), for tests that show
// that nothing is signalled by a number that may name another process by
// then: where pid_max is 32768, pids come round within minutes.
package pidtest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// HandOn starts commands made by newCmd until one gets pid, and returns
// it (ended at cleanup); nil if other processes took the pid first in a
// few tries, or held reports that the pid is still in use. The test is
// skipped when the pid cannot be chosen (not root).
func HandOn(tb testing.TB, pid int, newCmd func() *exec.Cmd, held func() bool) *exec.Cmd {
	tb.Helper()
	for range 20 {
		if held != nil && held() {
			return nil
		}
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			tb.Skipf("cannot choose a pid: %v", err)
		}
		cmd := newCmd()
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		if cmd.Process.Pid == pid {
			tb.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			return cmd
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	return nil
}
