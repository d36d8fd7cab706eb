package sessions

import (
	"context"
	"os"
	"os/exec"

	"github.com/codeterm/codeterm/isolation"
)

// Runtime starts the program behind a session. LocalRuntime, the default,
// runs it on a PTY of this machine; a runtime backed by an agent in a pod
// or another machine (docs/SCALING.md) implements the same interface, so
// everything above it (the ring, the emulator, attachments, offsets,
// pacing, the hand-over) stays as it is: it needs a terminal's master side
// to read and write and a process to wait for and signal.
type Runtime interface {
	Start(ctx context.Context, spec ProcessSpec) (*Started, error)
}

// ProcessSpec is what a session runs and how.
type ProcessSpec struct {
	Path       string   // the program
	Args       []string // its argv, argv[0] included
	Dir        string   // working directory
	Env        []string // the whole environment
	Cols, Rows int      // the terminal's initial size
	// Account is the OS account it runs as; nil: the server's own.
	Account *isolation.Account
}

// Started is a started session program: the master side of its terminal,
// non-blocking (on the runtime poller), and the process, which the session
// waits for and signals through Cmd.Process. The session owns both.
type Started struct {
	Cmd    *exec.Cmd
	Master *os.File
}

// LocalRuntime runs session programs on PTYs of this machine, each in a
// session of its own whose controlling terminal is the PTY, as the spec's
// account.
type LocalRuntime struct{}

// Start starts spec on a new local PTY.
func (LocalRuntime) Start(_ context.Context, spec ProcessSpec) (*Started, error) {
	return startLocal(spec)
}
