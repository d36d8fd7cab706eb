package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Running is what a running server writes to its data dir: the addresses
// it actually listens on, which differ from the configured ones when a
// flag, the environment or port 0 chose otherwise. Commands of the same
// installation (config-ssh) read it.
type Running struct {
	PID      int    `json:"pid"`
	SSHAddr  string `json:"ssh_addr"`
	HTTPAddr string `json:"http_addr"`
}

const runningFile = "running.json"

// WriteRunning records r in dataDir; the returned func removes it.
func WriteRunning(dataDir string, r Running) (remove func(), err error) {
	path := filepath.Join(dataDir, runningFile)
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return func() {
		// Only our own record: a newer server may have replaced it.
		if cur, ok := readRunning(path); ok && cur.PID == r.PID {
			os.Remove(path)
		}
	}, nil
}

// ReadRunning returns the record of the server running on dataDir; ok is
// false when there is none or its process is gone.
func ReadRunning(dataDir string) (Running, bool) {
	r, ok := readRunning(filepath.Join(dataDir, runningFile))
	if !ok || r.PID <= 0 {
		return Running{}, false
	}
	if err := syscall.Kill(r.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return Running{}, false // left behind by a server that was killed
	}
	return r, true
}

func readRunning(path string) (Running, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Running{}, false
	}
	var r Running
	if json.Unmarshal(data, &r) != nil {
		return Running{}, false
	}
	return r, true
}
