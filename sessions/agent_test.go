package sessions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shell's SSH_AUTH_SOCK is a socket only its account may use, in a
// directory of its own under the manager's agent base, made once the shell
// has started; both go when the session ends.
func TestAgentSocket(t *testing.T) {
	e := newTestEnv(t, Config{})
	s := e.create(0)
	c := collect(t, neverLag(attach(t, s, AttachOptions{LastSeq: -1})))
	input(t, c.a, "printf 'sock=<%s>\\n' \"$SSH_AUTH_SOCK\"\n")
	c.waitFor("/agent.sock>") // the output, not the echoed command line
	// All of it may have come as the first repaint, when the shell was
	// faster than the collector's first Next: read what was shown.
	out := string(c.snapshot())
	after := out[strings.LastIndex(out, "sock=<")+len("sock=<"):]
	sock, _, _ := strings.Cut(after, ">")
	dir := filepath.Dir(sock)
	if filepath.Dir(dir) != e.m.agentBase || !strings.HasPrefix(filepath.Base(dir), "codeterm-agent-") {
		t.Fatalf("SSH_AUTH_SOCK %q, want a directory of its own in %s", sock, e.m.agentBase)
	}
	if s.agent == nil || s.agent.path() != sock {
		t.Fatalf("relay not listening at %q", sock)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, sock: 0o600} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	input(t, c.a, "exit\n")
	c.waitExit()
	waitDone(t, s)
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", dir, err)
	}
}

// TMPDIR, when set, is where the agent directories go; otherwise an
// in-memory /dev/shm is preferred to /tmp.
func TestAgentBase(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	if got := agentBase(); got != dir {
		t.Errorf("with TMPDIR=%s: %s", dir, got)
	}
	t.Setenv("TMPDIR", "")
	fi, err := os.Lstat("/dev/shm")
	want := "/tmp"
	if err == nil && fi.IsDir() && fi.Mode().Perm() == 0o777 && fi.Mode()&os.ModeSticky != 0 {
		want = "/dev/shm"
	}
	if got := agentBase(); got != want {
		t.Errorf("without TMPDIR: %s, want %s", got, want)
	}
}

// The default shell is resolved once and kept while /etc/passwd and the
// shell are unchanged; either changing resolves it again.
func TestDefaultShellKept(t *testing.T) {
	wantName, wantPath, err := ResolveShell("")
	if err != nil {
		t.Skip(err)
	}
	m := NewManager(Config{}, nil, nil)
	check := func(when string) {
		t.Helper()
		name, path, err := m.resolveShell("")
		if err != nil || name != wantName || path != wantPath {
			t.Fatalf("%s: %s %s %v, want %s %s", when, name, path, err, wantName, wantPath)
		}
	}
	check("first")
	if m.shell.path != wantPath {
		t.Fatalf("not kept: %s %s", m.shell.name, m.shell.path)
	}
	// Kept: a stand-in is answered as long as the file checks hold.
	m.shell.name = "kept"
	if name, _, _ := m.resolveShell(""); name != "kept" {
		t.Fatalf("resolved again with nothing changed: %s", name)
	}
	m.shell.path = filepath.Join(t.TempDir(), "gone")
	check("shell gone")
	m.shell.name, m.shell.passwd = "stale", nil
	check("passwd changed")
}

// A configured command runs, with its argv, in a session that asks for no
// shell; one that asks for a shell still gets it.
func TestConfiguredCommand(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	e := newTestEnv(t, Config{Command: []string{sh, "-c", `echo "cmd-$((40+2)) $0"; exec cat`, "argzero"}})
	opts := e.opts(0)
	opts.Shell = ""
	s, err := e.m.Create(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	c := collect(t, attach(t, s, AttachOptions{LastSeq: 0}))
	c.waitFor("cmd-42 argzero")
	if i := s.Info(); i.Shell != "sh" {
		t.Errorf("shell %q, want sh", i.Shell)
	}
	asked := e.create(1) // asks for sh: the shell, not the command
	c2 := collect(t, attach(t, asked, AttachOptions{LastSeq: 0}))
	input(t, c2.a, "echo shell-$((6*7))\n")
	c2.waitFor("shell-42")
	if strings.Contains(string(c2.snapshot()), "cmd-42") {
		t.Error("a session that asked for sh ran the command")
	}

	e.m.cfg.Command = []string{filepath.Join(t.TempDir(), "missing")}
	if _, err := e.m.Create(context.Background(), e.opts(0)); err != nil {
		t.Fatalf("asking for sh with a missing command configured: %v", err)
	}
	opts.WorkspaceID, opts.Dir = e.ws[1].ID, e.ws[1].LocalPath
	if _, err := e.m.Create(context.Background(), opts); !errors.Is(err, ErrSpawn) {
		t.Errorf("missing command: %v, want ErrSpawn", err)
	}
}

// TestAgentRelayAcceptsOnDemand: the relay takes its connections when they
// come (it keeps no goroutine in Accept): none is refused while no agent
// is there, each reaches the agent one after another and at once, and a
// closed relay leaves nothing watched.
func TestAgentRelayAcceptsOnDemand(t *testing.T) {
	var w readyWatch
	r, err := listenAgent(agentSocketPath(t.TempDir()), nil, &w)
	if err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("unix", r.path())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	c := dial()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("without an agent: read %v, want EOF", err)
	}
	c.Close()

	remove := r.add(func() (io.ReadWriteCloser, error) {
		a, b := net.Pipe()
		go func() { io.Copy(b, b); b.Close() }()
		return a, nil
	})
	ping := func(msg string) error {
		c := dial()
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			return fmt.Errorf("echo %q: %q, %v", msg, got, err)
		}
		return nil
	}
	for i := range 3 {
		if err := ping(fmt.Sprint("one after another ", i)); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 5)
	for i := range cap(errs) {
		go func() { errs <- ping(fmt.Sprint("at once ", i)) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	remove()
	r.close()
	w.mu.Lock()
	n, ep := len(w.waiting), w.ep
	w.mu.Unlock()
	if n != 0 || ep != nil {
		t.Fatalf("closed relay: %d waiting, epoll %v", n, ep)
	}
}
