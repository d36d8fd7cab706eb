package upgrade

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// strayChildren lists this process's children that no part of the state
// claims: commands the previous image ran (an SSH exec, a git clone) whose
// clients went with it. Nobody else would reap them.
func strayChildren(env *envelope) []int {
	var claimed []int
	for _, p := range env.Parts {
		claimed = append(claimed, p.PIDs...)
	}
	var out []int
	for _, pid := range children() {
		if !slices.Contains(claimed, pid) {
			out = append(out, pid)
		}
	}
	return out
}

// children reads this process's children from /proc (each thread's list:
// a child belongs to the thread that forked it).
func children() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(out, pid) {
				out = append(out, pid)
			}
		}
	}
	return out
}

func reap(log *slog.Logger, pid int) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	st, err := p.Wait()
	if err != nil {
		log.Debug("upgrade: reap", "pid", pid, "err", err)
		return
	}
	log.Info("upgrade: a process of the previous image ended", "pid", pid, "status", st.String())
}
