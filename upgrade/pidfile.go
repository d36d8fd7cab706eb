package upgrade

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PIDFile is the name of the file in the data dir that names the running
// server, for `codeterm reload`.
const PIDFile = "codeterm.pid"

// WritePID records this process in dir (mode 0600) and returns a function
// that removes the file, for a server that stops. An upgrade keeps the PID,
// so the next image finds the file right.
func WritePID(dir string) (remove func(), err error) {
	path := filepath.Join(dir, PIDFile)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// Signal sends SIGHUP to the server whose pid file is in dir, after
// checking that the process is still a codeterm server.
func Signal(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("no server running with data in %s (no %s)", dir, PIDFile)
	}
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s: bad pid %q", filepath.Join(dir, PIDFile), b)
	}
	// A stale file may name a process that reused the PID: only a server
	// ("codeterm serve ...") gets the signal.
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return 0, fmt.Errorf("no server running with data in %s (pid %d is gone)", dir, pid)
	}
	if args := strings.Split(string(cmdline), "\x00"); len(args) < 2 || args[1] != "serve" {
		return 0, fmt.Errorf("pid %d (from %s) is not a codeterm server", pid, filepath.Join(dir, PIDFile))
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return 0, fmt.Errorf("signal pid %d: %w", pid, err)
	}
	return pid, nil
}
