package upgrade

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// envelope is what the memfd holds: the format, the listening sockets and
// each part's state, with the descriptor numbers they have after the exec
// (execve keeps them).
type envelope struct {
	Format    int
	Listeners []listenerState
	Parts     map[string]partState
}

type listenerState struct {
	Name, Addr string // Addr as configured, e.g. "127.0.0.1:0"
	FD         int
}

type partState struct {
	Version int
	FDs     []int
	PIDs    []int
	Data    json.RawMessage
}

// maxState bounds what the next image reads: every session's ring and
// screen at the default sizes fit many times over.
const maxState = 1 << 30

// writeState puts env in a sealed memfd: memory only this process (and
// whoever may ptrace it) can reach, never a file in a directory.
func writeState(env *envelope) (*os.File, error) {
	data, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("upgrade: encode state: %w", err)
	}
	fd, err := unix.MemfdCreate("codeterm-handover", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("upgrade: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "codeterm-handover")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("upgrade: write state: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("upgrade: seal state: %w", err)
	}
	return f, nil
}

// readState reads the envelope from the memfd fd (and closes it) and
// adopts every descriptor it names, close-on-exec again.
func readState(fd int) (*envelope, map[int]*os.File, error) {
	f := os.NewFile(uintptr(fd), "codeterm-handover")
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, maxState))
	if err != nil {
		return nil, nil, fmt.Errorf("upgrade: read state: %w", err)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, nil, fmt.Errorf("upgrade: decode state: %w", err)
	}
	files := map[int]*os.File{}
	adopt := func(fd int, name string) {
		if fd < 3 || files[fd] != nil {
			return
		}
		unix.CloseOnExec(fd)
		files[fd] = os.NewFile(uintptr(fd), name)
	}
	for _, l := range env.Listeners {
		adopt(l.FD, "listener-"+l.Name)
	}
	for name, p := range env.Parts {
		for _, fd := range p.FDs {
			adopt(fd, name)
		}
	}
	if env.Format != Version {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, fmt.Errorf("upgrade: state in format %d, want %d", env.Format, Version)
	}
	return &env, files, nil
}

// fdOf returns f's descriptor without f.Fd, which would switch it (and
// every duplicate: the flag is the open file's) to blocking mode.
func fdOf(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	rc.Control(func(fd uintptr) { n = int(fd) })
	return n
}

// keepOnExec clears close-on-exec on f, for the exec that follows.
func keepOnExec(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("keep %s open: %w", f.Name(), err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { _, ferr = unix.FcntlInt(fd, unix.F_SETFD, 0) }); err != nil {
		return fmt.Errorf("keep %s open: %w", f.Name(), err)
	}
	if ferr != nil {
		return fmt.Errorf("keep %s open: %w", f.Name(), ferr)
	}
	return nil
}
