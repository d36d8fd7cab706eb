package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/audit"
	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/store"
)

// shell is an interactive SSH session whose output is collected.
type shell struct {
	t    *testing.T
	sess *ssh.Session
	in   io.Writer
	mu   sync.Mutex
	out  bytes.Buffer
	grew chan struct{}
	done chan error
}

func (w *shell) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.grew <- struct{}{}:
	default:
	}
	return w.out.Write(p)
}

func (w *shell) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// expect waits until the output holds want.
func (w *shell) expect(want string) {
	w.t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(w.text(), want) {
		select {
		case <-w.grew:
		case <-deadline:
			w.t.Fatalf("no %q in %q", want, w.text())
		}
	}
}

func openShell(t *testing.T, port string, user string, signer ssh.Signer, command string) *shell {
	t.Helper()
	client, err := ssh.Dial("tcp", "127.0.0.1:"+port, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	w := &shell{t: t, sess: sess, grew: make(chan struct{}, 1), done: make(chan error, 1)}
	w.in, _ = sess.StdinPipe()
	sess.Stdout, sess.Stderr = w, w
	if err := sess.Start(command); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- sess.Wait() }()
	return w
}

// TestShareCommands: codeterm share and unshare, run beside the server,
// let bob into alice's session over SSH and take him out again.
func TestShareCommands(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, "CODETERM_SESSIONS_RECORD=true")
	keys := map[string]ssh.Signer{}
	for _, name := range []string{"alice", "bob"} {
		signer, _, err := auth.LoadOrCreateHostKey(filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = signer
		pub := filepath.Join(e.home, name+".pub")
		if err := os.WriteFile(pub, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
			t.Fatal(err)
		}
		e.ok("user", "add", name, "--key", pub)
	}
	e.ok("workspace", "create", "demo", "--owner", "alice")
	_, _, _, out := serveProc(t, e)
	m := regexp.MustCompile(`ssh -p (\d+) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no ssh port in %q", out)
	}
	port := m[1]
	alice := openShell(t, port, "alice", keys["alice"], "demo")
	alice.in.Write([]byte("echo READY-$((20+22))\r"))
	alice.expect("READY-42")

	st, err := store.Open(context.Background(), filepath.Join(e.data, "codeterm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ws, err := st.WorkspaceByName(context.Background(), mustUserID(t, st, "alice"), "demo")
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.SessionsOfWorkspace(context.Background(), ws.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions %v %v", list, err)
	}
	id := list[0].ID

	e.fails("role", "share", id, "bob", "--role", "admin")
	e.fails("not found", "share", "no-such-session", "bob")
	e.fails("invalid guest", "share", id, "alice")
	if got := e.ok("share", id, "bob", "--role", "editor", "--ttl", "1h"); !strings.Contains(got, "as editor until") ||
		!strings.Contains(got, "@"+id) || !strings.Contains(got, "owner's account") {
		t.Fatalf("share printed %q", got)
	}
	bob := openShell(t, port, "bob", keys["bob"], "@"+id)
	bob.expect("READY-42")
	bob.in.Write([]byte("echo BOB-$((6*7))\r"))
	alice.expect("BOB-42")

	e.ok("unshare", id, "bob")
	select {
	case err := <-bob.done:
		var exit *ssh.ExitError
		if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
			t.Fatalf("bob's session ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bob still attached after unshare")
	}
	bob.expect("no longer shared with you")
	e.fails("not shared", "unshare", id, "bob")

	// The session was recorded: listed and exported by the CLI.
	alice.in.Write([]byte("exit\r"))
	select {
	case <-alice.done:
	case <-time.After(20 * time.Second):
		t.Fatal("alice's shell did not exit")
	}
	if got := e.ok("recordings", "list"); !regexp.MustCompile(id + `\s+alice\s+\S*\s*terminated`).MatchString(got) {
		t.Fatalf("recordings list: %q", got)
	}
	cast := e.ok("recordings", "export", id)
	if !strings.HasPrefix(cast, `{"env":`) || !strings.Contains(cast, `"version":2`) || !strings.Contains(cast, "READY-42") ||
		!strings.Contains(cast, "BOB-42") || strings.Contains(cast, `"i",`) {
		t.Fatalf("exported recording: %q", cast)
	}
	file := filepath.Join(t.TempDir(), "s.cast")
	e.ok("recordings", "export", id, file)
	if b, _ := os.ReadFile(file); string(b) != cast {
		t.Fatal("the exported file differs")
	}
	e.fails("no recording", "recordings", "export", "no-such-session")

	// The audit log, written by the server and by the CLI beside it.
	logPath := filepath.Join(e.data, "audit.log")
	if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log: %v %v", fi, err)
	}
	raw, _ := os.ReadFile(logPath)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ev audit.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		d := ev.Event + " " + ev.User + " " + ev.Via + " " + ev.Guest
		if ev.Typed != nil {
			d += fmt.Sprintf(" typed=%d", *ev.Typed)
		}
		if ev.Via == "ssh" && !strings.HasPrefix(ev.Addr, "127.0.0.1:") {
			t.Errorf("no address in %q", line)
		}
		got = append(got, d)
	}
	want := []string{"attach alice ssh ", "share root cli bob", "attach bob ssh ", "unshare root cli bob",
		fmt.Sprintf("detach bob ssh  typed=%d", len("echo BOB-$((6*7))\r")), fmt.Sprintf("detach alice ssh  typed=%d", len("echo READY-$((20+22))\rexit\r"))}
	if u, err := user.Current(); err == nil {
		for i := range want {
			want[i] = strings.Replace(want[i], "root", u.Username, 1)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func mustUserID(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	u, err := st.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
