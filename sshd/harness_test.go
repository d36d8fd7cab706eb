package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
	"github.com/codeterm/codeterm/workspaces"
)

// harness is a running sshd.Server with users alice (workspace demo) and bob
// (workspace secret), and key files for the OpenSSH client.
type harness struct {
	t        testing.TB
	srv      *Server
	addr     string
	port     string
	store    *store.Store
	auth     *auth.Service
	sessions *sessions.Manager
	ws       *workspaces.Manager
	alice    *store.User
	bob      *store.User
	demo     *store.Workspace
	keyAlice string // private key files
	keyBob   string
	keyOther string
	home     string
}

func newHarness(t testing.TB, tweak ...func(*Server)) *harness {
	t.Helper()
	return newHarnessWith(t, nil, tweak...)
}

// newHarnessWith is newHarness with the session core's configuration
// changed by sessCfg first.
func newHarnessWith(t testing.TB, sessCfg func(*sessions.Config), tweak ...func(*Server)) *harness {
	t.Helper()
	for _, bin := range []string{"ssh", "scp", "sftp"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("the OpenSSH client (%s) is required: apt-get install openssh-client", bin)
		}
	}
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st, home: filepath.Join(dir, "home")}
	os.MkdirAll(h.home, 0o700)
	h.auth = auth.New(st, make([]byte, 32), time.Hour, time.Minute)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.Default()
	}
	scfg := sessions.Config{HistoryDir: filepath.Join(dir, "history"), KillGrace: time.Second,
		RecordDir: filepath.Join(dir, "recordings"), RecordOnRequest: true}
	if sessCfg != nil {
		sessCfg(&scfg)
	}
	h.sessions = sessions.NewManager(scfg, st, log)
	h.ws, err = workspaces.New(ctx, workspaces.Config{Root: filepath.Join(dir, "workspaces"), Store: st, Sessions: h.sessions, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.alice, _ = h.auth.AddUser(ctx, "alice")
	h.bob, _ = h.auth.AddUser(ctx, "bob")
	h.keyAlice = h.newKey(h.alice)
	h.keyBob = h.newKey(h.bob)
	h.keyOther = h.newKey(nil)
	if h.demo, err = h.ws.Create(ctx, h.alice, workspaces.CreateOptions{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	if _, err = h.ws.Create(ctx, h.bob, workspaces.CreateOptions{Name: "secret"}); err != nil {
		t.Fatal(err)
	}
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostKey, _ := gossh.NewSignerFromKey(hostPriv)
	h.srv = &Server{
		HostKey: hostKey, Auth: h.auth, Store: st, Sessions: h.sessions, Workspaces: h.ws, Log: log,
		PublicURL: "http://codeterm.test", AuthThrottle: auth.NewThrottle(100),
		HomeFor: func(*store.User) string { return h.home },
	}
	for _, f := range tweak {
		f(h.srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	_, h.port, _ = net.SplitHostPort(h.addr)
	served := make(chan struct{})
	go func() { h.srv.Serve(ln); close(served) }()
	t.Cleanup(func() {
		h.srv.Shutdown(context.Background())
		<-served
		h.sessions.Shutdown(context.Background())
		h.ws.Close()
		st.Close()
	})
	return h
}

// writeKeyFile writes a new ed25519 private key file for a client.
func writeKeyFile(tb testing.TB) (file string, pub ed25519.PublicKey) {
	tb.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		tb.Fatal(err)
	}
	file = filepath.Join(tb.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file, pub
}

// newKey writes an ed25519 private key file; u != nil registers it to u.
func (h *harness) newKey(u *store.User) string {
	f, pub := writeKeyFile(h.t)
	if u != nil {
		sp, _ := gossh.NewPublicKey(pub)
		if _, err := h.auth.AddKeys(context.Background(), u, []auth.PublicKey{{Key: sp}}); err != nil {
			h.t.Fatal(err)
		}
	}
	return f
}

// sshArgs are the OpenSSH client options for this server.
func (h *harness) sshArgs(key string, extra ...string) []string {
	return h.sshArgsAt("ERROR", key, extra...)
}

// sshArgsAt is sshArgs with the client's LogLevel: the client reports some
// events, such as a remote command killed by a signal, at INFO.
func (h *harness) sshArgsAt(logLevel, key string, extra ...string) []string {
	args := []string{"-F", "none", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=" + logLevel, "-o", "BatchMode=yes"}
	return append(args, extra...)
}

// ssh runs the OpenSSH client to completion.
func (h *harness) ssh(stdin io.Reader, key string, args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	cmd := exec.Command("ssh", append(h.sshArgs(key, "-p", h.port), args...)...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := runWithTimeout(cmd, 60*time.Second)
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("ssh %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func runWithTimeout(cmd *exec.Cmd, d time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return os.ErrDeadlineExceeded
	}
}

// term is an interactive OpenSSH client with a PTY request (-tt).
type term struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	grew  chan struct{}
	ended chan struct{}
	code  int
	pty   *os.File // ptyTerm's terminal: resize it to send window changes
}

func (h *harness) term(key string, args ...string) *term {
	h.t.Helper()
	return h.termEnv(nil, key, args...)
}

// termEnv is term with variables added to the client's environment, such as
// the TERM it sends in its pty request.
func (h *harness) termEnv(env []string, key string, args ...string) *term {
	h.t.Helper()
	cmd := exec.Command("ssh", append(h.sshArgs(key, "-tt", "-p", h.port), args...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	return h.follow(cmd, in, out)
}

// ptyTerm starts cmd on a PTY of its own, for clients that want a terminal
// as their stdin (dbclient, mosh, codeterm attach).
func (h *harness) ptyTerm(cmd *exec.Cmd) *term {
	h.t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { f.Close() })
	tm := h.follow(cmd, f, f)
	tm.pty = f
	return tm
}

// follow collects a started client's output until it ends.
func (h *harness) follow(cmd *exec.Cmd, in io.WriteCloser, out io.Reader) *term {
	tm := &term{t: h.t, cmd: cmd, in: in, grew: make(chan struct{}, 1), ended: make(chan struct{})}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := out.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			select {
			case tm.grew <- struct{}{}:
			default:
			}
			if err != nil {
				break
			}
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			tm.code = ee.ExitCode()
		}
		close(tm.ended)
	}()
	h.t.Cleanup(tm.kill)
	return tm
}

func (tm *term) kill() {
	tm.cmd.Process.Kill()
	<-tm.ended
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := io.WriteString(tm.in, s); err != nil {
		tm.t.Fatalf("send %q: %v", s, err)
	}
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// expect waits until the output contains want, and returns the output.
func (tm *term) expect(want string) string {
	tm.t.Helper()
	if !tm.expectWithin(want, 20*time.Second) {
		select {
		case <-tm.ended:
			tm.t.Fatalf("client ended (status %d) without printing %q; got %q", tm.code, want, tm.output())
		default:
			tm.t.Fatalf("timed out waiting for %q; got %q", want, tm.output())
		}
	}
	return tm.output()
}

// expectWithin reports whether the output holds want within d, or by the
// time the client ended.
func (tm *term) expectWithin(want string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		if strings.Contains(tm.output(), want) {
			return true
		}
		select {
		case <-tm.grew:
		case <-tm.ended:
			return strings.Contains(tm.output(), want)
		case <-deadline:
			return false
		}
	}
}

// wait waits for the client to end and returns its exit status.
func (tm *term) wait() int {
	tm.t.Helper()
	select {
	case <-tm.ended:
		return tm.code
	case <-time.After(20 * time.Second):
		tm.t.Fatalf("client did not end; output %q", tm.output())
		return -1
	}
}

// marker returns a command that prints a unique word and the word: the
// word appears in the output only when the shell ran the command, never in
// the echo of the typed line.
func marker(n int) (cmd, want string) {
	return "echo mark-$((" + strconv.Itoa(n) + "*2))\r", "mark-" + strconv.Itoa(n*2)
}

// TestMain lets the test binary stand in for `codeterm attach`: the server
// puts its own executable on PATH as "codeterm", and here that is this
// binary, so the client code under test is the one the command uses.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "attach" {
		code, err := AttachLocal(context.Background(), os.Args[2], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "codeterm:", err)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}
