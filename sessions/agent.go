package sessions

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/codeterm/codeterm/isolation"
)

// AgentDialer opens a stream to a client's SSH agent (for the SSH front-end,
// an auth-agent@openssh.com channel to the client).
type AgentDialer func() (io.ReadWriteCloser, error)

// agentRelay is a session's SSH_AUTH_SOCK. The shell's environment is fixed
// when it starts, so the socket's path stays the same for the session's life
// while the agent behind it changes: each connection goes to the agent of
// the most recently attached client that forwards one, and is refused (closed
// at once) while none does.
type agentRelay struct {
	dir string
	ln  net.Listener
	fd  int         // ln's descriptor
	w   *readyWatch // says when ln has a connection

	mu      sync.Mutex
	dialers []*AgentDialer // most recent last
	closed  bool
	waitID  int32 // the pending w.once call; 0: none
}

// agentSocketPath names a session's SSH_AUTH_SOCK before the relay exists
// (see listenAgent): a directory of its own under base (see agentBase),
// with a random name nobody can take first without knowing it.
func agentSocketPath(base string) string {
	return filepath.Join(base, "codeterm-agent-"+rand.Text(), "agent.sock")
}

// agentBase is where the sessions' agent directories go: the temporary
// directory when TMPDIR names one, else /dev/shm when it is, like /tmp, a
// directory anyone may create in and only owners remove from (sticky),
// else /tmp. /dev/shm is in memory, and a directory and a socket made and
// removed for every session cost a disk's journal far more (5 ms against
// 0.15 ms on an ext4 /tmp of a busy machine).
func agentBase() string {
	if os.Getenv("TMPDIR") != "" {
		return os.TempDir()
	}
	const shm = "/dev/shm"
	if fi, err := os.Lstat(shm); err == nil && fi.IsDir() && fi.Mode().Perm() == 0o777 && fi.Mode()&fs.ModeSticky != 0 {
		return shm
	}
	return os.TempDir()
}

// listenAgent makes the relay at path (from agentSocketPath) in a new
// directory (0700), both given to acct so that only the shell's OS account
// reaches the agent. A directory already there is an error, not a reuse.
// It runs once the shell has started, beside the shell's own start-up,
// which uses no agent before its first command.
func listenAgent(path string, acct *isolation.Account, w *readyWatch) (*agentRelay, error) {
	dir := filepath.Dir(path)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err == nil {
		err = acct.GiveSocket(path)
		if err == nil {
			err = acct.Chown(dir)
		}
		if err != nil {
			ln.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	return newAgentRelay(dir, ln, w), nil
}

func newAgentRelay(dir string, ln net.Listener, w *readyWatch) *agentRelay {
	r := &agentRelay{dir: dir, ln: ln, fd: -1, w: w}
	if sc, ok := ln.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { r.fd = int(fd) })
		}
	}
	r.serve()
	return r
}

func (r *agentRelay) path() string { return r.ln.Addr().String() }

// file duplicates the listening socket for a hand-over to the next program
// image; nil for no relay.
func (r *agentRelay) file() *os.File {
	if r == nil {
		return nil
	}
	ul, ok := r.ln.(*net.UnixListener)
	if !ok {
		return nil
	}
	f, err := ul.File()
	if err != nil {
		return nil
	}
	return f
}

// agentRelayFromFile is the relay a previous program image handed over:
// the same socket, listening in dir.
func agentRelayFromFile(f *os.File, dir string, w *readyWatch) (*agentRelay, error) {
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		// The file stays when the listener closes in this image; close
		// removes the directory.
		ul.SetUnlinkOnClose(false)
	}
	return newAgentRelay(dir, ln, w), nil
}

// serve accepts the next connection once there is one, on a goroutine
// started then: a shell that never uses its agent (most never do) costs no
// goroutine waiting in Accept.
func (r *agentRelay) serve() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.fd >= 0 {
		if id, ok := r.w.once(r.fd, r.accept); ok {
			r.waitID = id
			return
		}
	}
	r.waitID = 0
	go r.acceptLoop()
}

// accept takes the connection that made the listener readable, then
// waits for the next one while it relays this one.
func (r *agentRelay) accept() {
	r.mu.Lock()
	r.waitID = 0
	r.mu.Unlock()
	c, err := r.ln.Accept()
	if errors.Is(err, net.ErrClosed) {
		return
	}
	r.serve()
	if err == nil {
		r.relay(c)
	}
}

// acceptLoop serves the listener on a goroutine of its own, where it
// cannot be watched.
func (r *agentRelay) acceptLoop() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go r.relay(c)
	}
}

func (r *agentRelay) relay(c net.Conn) {
	defer c.Close()
	r.mu.Lock()
	var dial AgentDialer
	if n := len(r.dialers); n > 0 {
		dial = *r.dialers[n-1]
	}
	r.mu.Unlock()
	if dial == nil {
		return
	}
	agent, err := dial()
	if err != nil {
		return
	}
	defer agent.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(agent, c)
		closeWrite(agent)
		close(done)
	}()
	io.Copy(c, agent)
	closeWrite(c)
	<-done
}

// closeWrite passes an end of stream on, keeping the other direction open.
func closeWrite(c any) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// add makes dial the agent of new connections until remove is called.
func (r *agentRelay) add(dial AgentDialer) (remove func()) {
	p := &dial
	r.mu.Lock()
	r.dialers = append(r.dialers, p)
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			for i, d := range r.dialers {
				if d == p {
					r.dialers = append(r.dialers[:i], r.dialers[i+1:]...)
					break
				}
			}
			r.mu.Unlock()
		})
	}
}

func (r *agentRelay) close() {
	r.mu.Lock()
	r.closed = true
	if r.waitID != 0 {
		r.w.cancel(r.fd, r.waitID) // while the descriptor is still open
		r.waitID = 0
	}
	r.mu.Unlock()
	r.ln.Close()
	os.RemoveAll(r.dir)
}

// ForwardAgent offers a client's agent to the session's shell (through its
// SSH_AUTH_SOCK) until stop is called, typically when the client detaches.
// With several clients forwarding, the most recent one's agent answers.
func (s *Session) ForwardAgent(dial AgentDialer) (stop func()) {
	if s.agent == nil {
		return func() {}
	}
	return s.agent.add(dial)
}
