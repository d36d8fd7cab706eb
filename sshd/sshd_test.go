package sshd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/sessions"
	"github.com/codeterm/codeterm/store"
)

func TestSharedSessionTwoClients(t *testing.T) {
	h := newHarness(t)
	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	cmd, want := marker(21)
	a.send(cmd)
	a.expect(want)

	// A late joiner sees the current screen, including the earlier output.
	b := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	b.expect(want)

	// Input from either client reaches the one shell; both see the output.
	cmd, want = marker(33)
	b.send(cmd)
	a.expect(want)
	b.expect(want)

	// Disconnecting only detaches.
	b.kill()
	cmd, want = marker(44)
	a.send(cmd)
	a.expect(want)
	if n := len(h.sessions.List(h.alice.ID, h.demo.ID)); n != 1 {
		t.Fatalf("%d sessions, want the one shared session", n)
	}

	// exit ends the shell for everyone, with its status.
	a.send("exit 3\r")
	if code := a.wait(); code != 3 {
		t.Fatalf("exit status %d, want 3", code)
	}
}

func TestAttachBySessionPrefixAndUnknown(t *testing.T) {
	h := newHarness(t)
	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	cmd, want := marker(5)
	a.send(cmd)
	a.expect(want)
	id := h.sessions.List(h.alice.ID, h.demo.ID)[0].ID()
	b := h.term(h.keyAlice, "alice@127.0.0.1", "demo/"+id[:8])
	b.expect(want)
	_, errs, code := h.ssh(nil, h.keyAlice, "-tt", "alice@127.0.0.1", "demo/zzzzzzzz")
	if code != 1 || !strings.Contains(errs+"", "no session") {
		// -tt merges nothing: the message is on stderr
		t.Fatalf("unknown session: %d %q", code, errs)
	}
}

// Raw PTY bytes reach the client unchanged: no \n → \r\n rewriting.
func TestNoNewlineRewriting(t *testing.T) {
	h := newHarness(t)
	out, _, code := h.ssh(nil, h.keyAlice, "-tt", "alice@127.0.0.1", "demo", "stty -onlcr; printf 'x\\ny\\n'")
	if code != 0 || !strings.Contains(out, "x\ny\n") || strings.Contains(out, "x\r\ny") {
		t.Fatalf("exec with pty: %d %q", code, out)
	}
	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	a.send("stty -onlcr; printf 'p%sq\\nr%ss\\n' 1 2\r")
	got := a.expect("r2s\n")
	if !strings.Contains(got, "p1q\nr2s\n") {
		t.Fatalf("shared session rewrote newlines: %q", got)
	}
}

func TestLessRendersInSharedSession(t *testing.T) {
	if _, err := exec.LookPath("less"); err != nil {
		t.Fatal("less is required (apt-get install less)")
	}
	h := newHarness(t)
	var lines strings.Builder
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&lines, "line-%03d\n", i)
	}
	os.WriteFile(filepath.Join(h.demo.LocalPath, "f.txt"), []byte(lines.String()), 0o644)
	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	a.send("LESS= less f.txt\r")
	a.expect("line-010")
	// A late joiner gets a repaint of less's screen.
	b := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	got := b.expect("line-010")
	if !strings.Contains(got, "\x1b[?1049h") {
		t.Fatalf("repaint does not restore the alternate screen: %q", got)
	}
	if strings.Contains(got, "line-010\r\r") {
		t.Fatalf("stray carriage return: %q", got)
	}
	b.send("q")
	cmd, want := marker(9)
	b.send(cmd)
	a.expect(want)
}

func TestExecStatusStreamsAndStdin(t *testing.T) {
	h := newHarness(t)
	out, errs, code := h.ssh(nil, h.keyAlice, "alice@127.0.0.1", "demo", "echo out; echo err >&2; pwd; exit 7")
	if code != 7 || out != "out\n"+h.demo.LocalPath+"\n" || errs != "err\n" {
		t.Fatalf("exec: %d %q %q", code, out, errs)
	}
	// user+WORKSPACE: a plain shell reading a script on stdin, no banner.
	out, errs, code = h.ssh(strings.NewReader("echo $((40+2))\npwd\nexit 5\n"), h.keyAlice, "alice+demo@127.0.0.1")
	if code != 5 || out != "42\n"+h.demo.LocalPath+"\n" {
		t.Fatalf("no-pty shell: %d %q %q", code, out, errs)
	}
	// exec as user+WORKSPACE runs $SHELL -c; stdin EOF reaches the child.
	out, _, code = h.ssh(strings.NewReader("a\nb\nc\n"), h.keyAlice, "alice+demo@127.0.0.1", "wc -l")
	if code != 0 || strings.TrimSpace(out) != "3" {
		t.Fatalf("stdin EOF: %d %q", code, out)
	}
}

func TestCatTenMegabytesByteExact(t *testing.T) {
	h := newHarness(t)
	data := make([]byte, 10<<20)
	rand.Read(data)
	cmd := exec.Command("ssh", append(h.sshArgs(h.keyAlice, "-p", h.port), "alice+demo@127.0.0.1", "cat")...)
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := runWithTimeout(cmd, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(out.Bytes()) != sha256.Sum256(data) {
		t.Fatalf("10 MB through cat: got %d bytes, not byte-exact", out.Len())
	}
}

func TestEnvRequests(t *testing.T) {
	h := newHarness(t)
	t.Setenv("CODETERM_GITHUB_CLIENT_SECRET", "server-secret")
	out, _, code := h.ssh(nil, h.keyAlice, "-o", "SetEnv=LC_CODETERM=yes LANG=C.UTF-8 EVIL=1", "alice@127.0.0.1", "demo",
		`echo "$LC_CODETERM/$LANG/${EVIL:-unset}/${CODETERM_GITHUB_CLIENT_SECRET:-unset}"`)
	if code != 0 || strings.TrimSpace(out) != "yes/C.UTF-8/unset/unset" {
		t.Fatalf("env: %d %q", code, out)
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	_, errs, code := h.ssh(nil, h.keyOther, "alice@127.0.0.1", "demo", "true")
	if code != 255 || !strings.Contains(errs, "Permission denied") {
		t.Fatalf("unknown key: %d %q", code, errs)
	}
	// alice's key does not log in as bob.
	_, errs, code = h.ssh(nil, h.keyAlice, "bob@127.0.0.1", "secret", "true")
	if code != 255 {
		t.Fatalf("alice's key as bob: %d %q", code, errs)
	}
	// Password and keyboard-interactive are not offered.
	_, errs, _ = h.ssh(nil, h.keyOther, "-o", "PreferredAuthentications=password,keyboard-interactive", "alice@127.0.0.1", "true")
	if !strings.Contains(errs, "(publickey)") {
		t.Fatalf("methods offered: %q", errs)
	}
	// The monitoring counters saw each kind of failure and every connection.
	st := h.srv.Stats()
	if st.AuthFailures["unknown_key"] < 1 || st.AuthFailures["wrong_user"] < 1 || st.AuthFailures["handshake"] < 3 || st.ConnectionsTotal < 3 {
		t.Errorf("stats after refused logins: %+v", st)
	}
	// A key added while the server runs works at once.
	h.newKeyFor(h.alice, h.keyOther)
	if _, _, code = h.ssh(nil, h.keyOther, "alice@127.0.0.1", "demo", "true"); code != 0 {
		t.Fatalf("new key: %d", code)
	}
}

// newKeyFor registers the public half of an existing private key file to u.
func (h *harness) newKeyFor(u *store.User, keyFile string) {
	h.t.Helper()
	pem, _ := os.ReadFile(keyFile)
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.auth.AddKeys(context.Background(), u, []auth.PublicKey{{Key: signer.PublicKey()}}); err != nil {
		h.t.Fatal(err)
	}
}

func TestAuthRateLimit(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.AuthLimiter.PerMinute = 3 })
	for i := 0; i < 3; i++ {
		h.ssh(nil, h.keyOther, "alice@127.0.0.1", "true")
	}
	_, errs, code := h.ssh(nil, h.keyAlice, "alice@127.0.0.1", "demo", "true")
	if code != 255 {
		t.Fatalf("good key after 3 failures at 3/min should be refused: %d %q", code, errs)
	}
}

func TestOtherUsersWorkspaceLooksMissing(t *testing.T) {
	h := newHarness(t)
	_, errSecret, codeSecret := h.ssh(nil, h.keyAlice, "alice@127.0.0.1", "secret", "true")
	_, errMissing, codeMissing := h.ssh(nil, h.keyAlice, "alice@127.0.0.1", "nosuch", "true")
	if codeSecret != 1 || codeMissing != 1 {
		t.Fatalf("status %d and %d, want 1", codeSecret, codeMissing)
	}
	if strings.ReplaceAll(errSecret, "secret", "X") != strings.ReplaceAll(errMissing, "nosuch", "X") {
		t.Fatalf("messages differ: %q vs %q", errSecret, errMissing)
	}
	if _, _, code := h.ssh(nil, h.keyAlice, "alice+secret@127.0.0.1", "true"); code != 1 {
		t.Fatalf("alice+secret: %d", code)
	}
}

func TestLoginAndUsage(t *testing.T) {
	h := newHarness(t)
	out, _, code := h.ssh(nil, h.keyAlice, "alice@127.0.0.1", "login")
	if code != 0 || !strings.HasPrefix(out, "http://codeterm.test/login?code=") {
		t.Fatalf("login: %d %q", code, out)
	}
	code64 := strings.TrimSpace(strings.TrimPrefix(out, "http://codeterm.test/login?code="))
	if _, u, err := h.auth.ExchangeCode(context.Background(), code64); err != nil || u.ID != h.alice.ID {
		t.Fatalf("exchange: %v", err)
	}
	out, errs, code := h.ssh(nil, h.keyAlice, "alice@127.0.0.1")
	if code != 0 || !strings.Contains(out, "demo") || strings.Contains(out, "secret") || !strings.Contains(errs, "Usage:") {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	_, errs, code = h.ssh(nil, h.keyAlice, "alice@127.0.0.1", "demo")
	if code != 1 || !strings.Contains(errs, "ssh -t") {
		t.Fatalf("attach without a terminal: %d %q", code, errs)
	}
}

func TestPickerAttaches(t *testing.T) {
	h := newHarness(t)
	a := h.term(h.keyAlice, "alice@127.0.0.1")
	a.expect("demo")
	a.send("\r")
	a.expect("attaching to demo")
	cmd, want := marker(12)
	a.send(cmd)
	a.expect(want)
	// The picker's session is the workspace's primary session.
	b := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	b.expect(want)
}

func TestPickerCreatesWorkspace(t *testing.T) {
	h := newHarness(t)
	a := h.term(h.keyAlice, "alice@127.0.0.1")
	a.expect("demo")
	a.send("n")
	a.expect("New workspace name")
	a.send("fresh\r")
	a.expect("attaching to fresh")
	cmd, want := marker(14)
	a.send(cmd)
	a.expect(want)
	ws, err := h.store.WorkspaceByName(context.Background(), h.alice.ID, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws.LocalPath, ".git")); err != nil {
		t.Fatalf("new workspace is not a git checkout: %v", err)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func TestLocalForward(t *testing.T) {
	h := newHarness(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "through the tunnel") }))
	defer web.Close()
	_, webPort, _ := net.SplitHostPort(web.Listener.Addr().String())
	local := freePort(t)
	cmd := exec.Command("ssh", append(h.sshArgs(h.keyAlice, "-p", h.port, "-N", "-o", "ExitOnForwardFailure=yes",
		"-L", local+":127.0.0.1:"+webPort), "alice+demo@127.0.0.1")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var body []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://127.0.0.1:" + local + "/")
		if err == nil {
			body, _ = io.ReadAll(res.Body)
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tunnel never came up: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling for the client's listener, not for output
	}
	if string(body) != "through the tunnel" {
		t.Fatalf("body %q", body)
	}

	// A destination off the loopback interface is refused without dialing.
	c := h.client(h.keyAlice, "alice")
	if _, err := c.Dial("tcp", "example.invalid:80"); err == nil {
		t.Fatal("forward to a non-loopback destination was allowed")
	}
	if conn, err := c.Dial("tcp", web.Listener.Addr().String()); err != nil {
		t.Fatalf("loopback forward: %v", err)
	} else {
		conn.Close()
	}
}

func TestReverseForwardAndStreamLocal(t *testing.T) {
	h := newHarness(t)
	c := h.client(h.keyAlice, "alice")
	if _, err := c.Listen("tcp", "0.0.0.0:0"); err == nil {
		t.Fatal("remote forward bound on all interfaces")
	}
	ln, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("remote forward on loopback: %v", err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(conn, "hello from the client side")
		conn.Close()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "hello from the client side" {
		t.Fatalf("-R: %q", got)
	}

	// direct-streamlocal@openssh.com to a unix socket on the server.
	sock := filepath.Join(t.TempDir(), "s.sock")
	uln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	go func() {
		conn, err := uln.Accept()
		if err != nil {
			return
		}
		io.Copy(conn, conn)
		conn.Close()
	}()
	sc, err := c.Dial("unix", sock)
	if err != nil {
		t.Fatalf("streamlocal: %v", err)
	}
	io.WriteString(sc, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("streamlocal echo: %q %v", buf, err)
	}
	sc.Close()
}

// client is an x/crypto/ssh client.
func (h *harness) client(keyFile, user string) *gossh.Client {
	h.t.Helper()
	pem, _ := os.ReadFile(keyFile)
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := gossh.Dial("tcp", h.addr, &gossh.ClientConfig{
		User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func TestManyChannelsOneConnection(t *testing.T) {
	h := newHarness(t)
	c := h.client(h.keyAlice, "alice+demo")
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			s, err := c.NewSession()
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			out, err := s.Output(fmt.Sprintf("echo chan-%d", i))
			if err == nil && string(out) != fmt.Sprintf("chan-%d\n", i) {
				err = fmt.Errorf("channel %d got %q", i, out)
			}
			errs <- err
		}(i)
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestSFTPAndSCP(t *testing.T) {
	h := newHarness(t)
	src := filepath.Join(t.TempDir(), "up.bin")
	data := make([]byte, 300<<10)
	rand.Read(data)
	os.WriteFile(src, data, 0o644)
	os.WriteFile(filepath.Join(h.demo.LocalPath, "remote.txt"), []byte("from the workspace\n"), 0o644)
	back := filepath.Join(t.TempDir(), "down.txt")
	batch := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(batch, []byte(fmt.Sprintf("put %s put.bin\nget remote.txt %s\n", src, back)), 0o644)
	cmd := exec.Command("sftp", append(h.sshArgs(h.keyAlice, "-P", h.port, "-b", batch), "alice+demo@127.0.0.1")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v %s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(h.demo.LocalPath, "put.bin")); !bytes.Equal(got, data) {
		t.Fatal("sftp put: content differs")
	}
	if got, _ := os.ReadFile(back); string(got) != "from the workspace\n" {
		t.Fatalf("sftp get: %q", got)
	}
	for _, mode := range []string{"", "-O"} { // sftp-based scp and the legacy scp protocol
		args := h.sshArgs(h.keyAlice, "-P", h.port)
		if mode != "" {
			args = append(args, mode)
		}
		name := "scp" + mode + ".bin"
		cmd := exec.Command("scp", append(args, src, "alice+demo@127.0.0.1:"+name)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scp %s: %v %s", mode, err, out)
		}
		if got, _ := os.ReadFile(filepath.Join(h.demo.LocalPath, name)); !bytes.Equal(got, data) {
			t.Fatalf("scp %s: content differs", mode)
		}
	}
}

func TestDeadClientDroppedByKeepalive(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.KeepaliveInterval = 100 * time.Millisecond; s.KeepaliveMax = 3 })
	// A proxy that can freeze: the client then answers nothing, like a laptop that went to sleep.
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pln.Close()
	freeze := make(chan struct{})
	serverSideClosed := make(chan struct{})
	go func() {
		cconn, err := pln.Accept()
		if err != nil {
			return
		}
		defer cconn.Close()
		sconn, err := net.Dial("tcp", h.addr)
		if err != nil {
			return
		}
		go func() { // client → server until frozen
			buf := make([]byte, 32<<10)
			for {
				n, err := cconn.Read(buf)
				if err != nil {
					return
				}
				select {
				case <-freeze:
					return
				default:
				}
				sconn.Write(buf[:n])
			}
		}()
		io.Copy(cconn, sconn) // server → client; ends when the server drops us
		close(serverSideClosed)
	}()
	pem, _ := os.ReadFile(h.keyAlice)
	signer, _ := gossh.ParsePrivateKey(pem)
	c, err := gossh.Dial("tcp", pln.Addr().String(), &gossh.ClientConfig{
		User: "alice+demo", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.NewSession()
	if out, err := s.Output("echo alive"); err != nil || string(out) != "alive\n" {
		t.Fatalf("before freeze: %q %v", out, err)
	}
	close(freeze)
	select {
	case <-serverSideClosed:
	case <-time.After(20 * time.Second):
		t.Fatal("server kept a dead client")
	}
}

func TestSSHAudit(t *testing.T) {
	bin, err := exec.LookPath("ssh-audit")
	if err != nil {
		t.Skip("ssh-audit is not installed (apt-get install ssh-audit); .ci/run installs it")
	}
	h := newHarness(t)
	out, _ := exec.Command(bin, "-p", h.port, "127.0.0.1").CombinedOutput()
	if bytes.Contains(out, []byte("[fail]")) {
		t.Fatalf("ssh-audit reports failures:\n%s", out)
	}
	if !bytes.Contains(out, []byte("curve25519")) {
		t.Fatalf("ssh-audit output unexpected:\n%s", out)
	}
}

// The entries of codeterm config-ssh make `ssh demo` land in the workspace.
func TestConfigEntriesWorkWithOpenSSH(t *testing.T) {
	h := newHarness(t)
	list, _ := h.store.Workspaces(context.Background(), h.alice.ID)
	var b bytes.Buffer
	if err := WriteConfig(&b, ConfigEntries(h.alice, list, "127.0.0.1", h.port, "ct-")); err != nil {
		t.Fatal(err)
	}
	b.WriteString(fmt.Sprintf("Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n", h.keyAlice))
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, b.Bytes(), 0o600)
	out, err := exec.Command("ssh", "-F", cfg, "ct-demo", "pwd").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != h.demo.LocalPath {
		t.Fatalf("ssh ct-demo pwd: %v %q", err, out)
	}
}

// ssh -A: a command in the workspace reaches the client's agent.
func TestAgentForwarding(t *testing.T) {
	h := newHarness(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	defer func() { agent.Process.Kill(); agent.Wait() }()
	var added []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		add := exec.Command("ssh-add", h.keyOther)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if added, err = add.CombinedOutput(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-add: %v %s", err, added)
		}
		time.Sleep(20 * time.Millisecond) // the agent's socket appears shortly after start
	}
	pem, _ := os.ReadFile(h.keyOther)
	signer, _ := gossh.ParsePrivateKey(pem)
	want := gossh.FingerprintSHA256(signer.PublicKey())

	cmd := exec.Command("ssh", append(h.sshArgs(h.keyAlice, "-p", h.port, "-A"), "alice+demo@127.0.0.1", "ssh-add -l")...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("ssh-add -l through the forwarded agent: %v %q, want %s", err, out, want)
	}
	// Without -A there is no agent.
	cmd = exec.Command("ssh", append(h.sshArgs(h.keyAlice, "-p", h.port), "alice+demo@127.0.0.1", `echo "agent=${SSH_AUTH_SOCK:-none}"`)...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, _ := cmd.CombinedOutput(); strings.TrimSpace(string(out)) != "agent=none" {
		t.Fatalf("agent without -A: %q", out)
	}
}

// rsync runs "rsync --server" through exec on the workspace login.
func TestRsync(t *testing.T) {
	h := newHarness(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "dir"), 0o755)
	os.WriteFile(filepath.Join(src, "dir", "a.txt"), []byte("alpha\n"), 0o644)
	os.WriteFile(filepath.Join(src, "b.bin"), bytes.Repeat([]byte{0, 1, 2, 255}, 50000), 0o644)
	rsh := "ssh " + strings.Join(h.sshArgs(h.keyAlice, "-p", h.port), " ")
	out, err := exec.Command("rsync", "-a", "-e", rsh, src+"/", "alice+demo@127.0.0.1:synced/").CombinedOutput()
	if err != nil {
		t.Fatalf("rsync: %v %s", err, out)
	}
	for _, f := range []string{"dir/a.txt", "b.bin"} {
		want, _ := os.ReadFile(filepath.Join(src, f))
		got, err := os.ReadFile(filepath.Join(h.demo.LocalPath, "synced", f))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after rsync: %v", f, err)
		}
	}
}

// A command run over SSH gets a git credential id, live while it runs, as a
// session's shell does: git in VS Code's terminal can push to GitHub.
func TestExecGetsGitCredential(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.Sessions = sessions.NewManager(sessions.Config{
			GitCredential: func(userID, id string) string { return userID + "." + id },
		}, nil, nil)
	})
	mgr := h.srv.Sessions
	out, _, code := h.ssh(nil, h.keyAlice, "alice+demo@127.0.0.1", `echo "$`+sessions.GitCredentialVar+`"`)
	cred := strings.TrimSpace(out)
	user, id, ok := strings.Cut(cred, ".")
	if code != 0 || !ok || user != h.alice.ID || id == "" {
		t.Fatalf("credential in exec: %d %q", code, out)
	}
	if mgr.Live(h.alice.ID, id) {
		t.Fatal("the exec's scope outlived the command")
	}
	// While a command runs, its id is live.
	tm := h.term(h.keyAlice, "alice+demo@127.0.0.1", `echo "cred=$`+sessions.GitCredentialVar+`"; read line`)
	got := tm.expect("cred=" + h.alice.ID + ".")
	i := strings.Index(got, "cred="+h.alice.ID+".")
	live := strings.Fields(got[i+len("cred="+h.alice.ID+"."):])[0]
	if !mgr.Live(h.alice.ID, live) {
		t.Fatalf("running exec %q not live", live)
	}
	tm.send("done\r")
	tm.wait()
}
