package sessions

import (
	"os/exec"
	"testing"
	"time"
)

// TestReadyWatchExits: each exit reaches its own waiter, whatever the order, and
// the watching goroutine stops (its epoll instance closed) once nothing is
// watched, to start again for the next process.
func TestReadyWatchExits(t *testing.T) {
	var w readyWatch
	start := func() *exec.Cmd {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c
	}
	for round := 0; round < 2; round++ {
		cmds := []*exec.Cmd{start(), start(), start()}
		fired := make(chan int, len(cmds))
		for i, c := range cmds {
			if !w.exited(c.Process.Pid, func() { fired <- i }) {
				t.Skip("no pidfd or epoll here")
			}
		}
		for _, i := range []int{1, 2, 0} {
			cmds[i].Process.Kill()
			select {
			case got := <-fired:
				if got != i {
					t.Fatalf("round %d: killed %d, waiter %d fired", round, i, got)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: exit of %d not seen", round, i)
			}
			// Not reaped: the session's own Wait does that.
			if cmds[i].ProcessState != nil {
				t.Fatal("reaped")
			}
		}
		w.mu.Lock()
		ep, n := w.ep, len(w.waiting)
		w.mu.Unlock()
		if ep != nil || n != 0 {
			t.Fatalf("round %d: still watching %d processes (epoll %v)", round, n, ep)
		}
	}
}
