package sshd

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
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

// TestLateJoinerGetsScrollback: an SSH late joiner gets the session's
// history as output before the screen, so that its terminal's scrollback
// holds it as the first client's does.
func TestLateJoinerGetsScrollback(t *testing.T) {
	h := newHarness(t)
	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	a.send("for i in $(seq 1 200); do echo hist-$i; done\r")
	a.expect("hist-200\r\n")
	b := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	cmd, want := marker(12)
	b.send(cmd)
	got := b.expect(want)
	first, last := strings.Index(got, "hist-1\r\n"), strings.Index(got, "hist-200")
	if first < 0 || last < first {
		t.Fatalf("late joiner got no scrollback before the screen: %q", got)
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
	// The server counts a failed handshake once it sees the connection
	// end, which may be after the client has exited.
	counted := func(st Stats) bool {
		return st.AuthFailures["unknown_key"] >= 1 && st.AuthFailures["wrong_user"] >= 1 && st.AuthFailures["handshake"] >= 3 && st.ConnectionsTotal >= 3
	}
	st := h.srv.Stats()
	for deadline := time.Now().Add(10 * time.Second); !counted(st) && time.Now().Before(deadline); st = h.srv.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	if !counted(st) {
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
	// sftp starts in HOME, as OpenSSH's; the workspace is ~/ws/demo.
	if out, err := h.sftp("cd ws/demo", "put "+src+" put.bin", "get remote.txt "+back); err != nil {
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
		cmd := exec.Command("scp", append(args, src, "alice+demo@127.0.0.1:~/ws/demo/"+name)...)
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

// startAgent runs a real ssh-agent holding key; it returns its socket and
// the key's fingerprint.
func startAgent(t *testing.T, key string) (sock, fingerprint string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	var added []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		add := exec.Command("ssh-add", key)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if added, err = add.CombinedOutput(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-add: %v %s", err, added)
		}
		time.Sleep(20 * time.Millisecond) // the agent's socket appears shortly after start
	}
	pem, _ := os.ReadFile(key)
	signer, _ := gossh.ParsePrivateKey(pem)
	return sock, gossh.FingerprintSHA256(signer.PublicKey())
}

// ssh -A: a command in the workspace reaches the client's agent.
func TestAgentForwarding(t *testing.T) {
	h := newHarness(t)
	sock, want := startAgent(t, h.keyOther)

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

// A command killed by a signal ends with exit-signal, as with OpenSSH's
// sshd. OpenSSH 9.2's client reports it only in its debug output (newer ones
// print "killed by signal") and exits with 255 as against a stock sshd.
func TestExitSignal(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{{"alice+demo@127.0.0.1"}, {"-tt", "alice+demo@127.0.0.1"}, {"alice@127.0.0.1", "demo"}} {
		cmd := exec.Command("ssh", append(h.sshArgsAt("DEBUG", h.keyAlice, "-p", h.port), append(args, "kill -9 $$")...)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := runWithTimeout(cmd, time.Minute)
		code, stderr := cmd.ProcessState.ExitCode(), errb.String()
		if err != nil && code <= 0 {
			t.Fatal(err)
		}
		if !strings.Contains(stderr, "rtype exit-signal") || strings.Contains(stderr, "rtype exit-status") || code != 255 {
			t.Errorf("%v: status %d, stderr %q; want exit-signal alone", args, code, stderr)
		}
	}
	// The signal's name, as RFC 4254 spells it.
	s, err := h.client(h.keyAlice, "alice+demo").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var ee *gossh.ExitError
	if err := s.Run("kill -TERM $$"); !errors.As(err, &ee) || ee.Signal() != "TERM" {
		t.Errorf("kill -TERM: %v, want exit-signal TERM", err)
	}
	// The shared session's shell killed by a signal: its clients hear of it.
	s, err = h.client(h.keyAlice, "alice").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	s.Stdout = io.Discard
	if err := s.Start("demo"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "kill -KILL $$\r")
	if err := s.Wait(); !errors.As(err, &ee) || ee.Signal() != "KILL" {
		t.Errorf("shared shell killed: %v, want exit-signal KILL", err)
	}
	// A plain status is still a status.
	if _, _, code := h.ssh(nil, h.keyAlice, "alice+demo@127.0.0.1", "exit 7"); code != 7 {
		t.Errorf("exit 7: status %d", code)
	}
}

// The pty request's TERM reaches shared and private shells; COLORTERM only
// when the client sends it; USER and LOGNAME come from the account even when
// the server's environment lacks them.
func TestTermAndEnvironment(t *testing.T) {
	t.Setenv("USER", "")
	t.Setenv("LOGNAME", "")
	os.Unsetenv("USER")
	os.Unsetenv("LOGNAME")
	me, _ := user.Current()
	h := newHarness(t)
	show := `echo "[$TERM/${COLORTERM:-none}/$USER/$LOGNAME]"`
	want := "[vt100/none/" + me.Username + "/" + me.Username + "]"
	// A private shell on a PTY of its own.
	tm := h.termEnv([]string{"TERM=vt100"}, h.keyAlice, "alice+demo@127.0.0.1", show)
	tm.expect(want)
	tm.wait()
	// The shared session.
	a := h.termEnv([]string{"TERM=vt100"}, h.keyAlice, "alice@127.0.0.1", "demo")
	a.send(show + "\r")
	a.expect(want)
	// A later client of the shared session gets the creator's TERM.
	b := h.termEnv([]string{"TERM=screen-256color"}, h.keyAlice, "alice+demo@127.0.0.1")
	b.send(show + "\r")
	b.expect(want + "\r\n")
	a.kill()
	b.kill()
	// COLORTERM passes when sent.
	tm = h.termEnv([]string{"TERM=linux"}, h.keyAlice, "-o", "SetEnv=COLORTERM=truecolor", "alice+demo@127.0.0.1", show)
	tm.expect("[linux/truecolor/")
	tm.wait()
}

// Debian 12's dropbear client (2022.83) offers only non-ETM MACs with AES-CTR.
func TestDropbearClient(t *testing.T) {
	if _, err := exec.LookPath("dbclient"); err != nil {
		t.Skip("dbclient is not installed (apt-get install dropbear-bin); .ci/run installs it")
	}
	h := newHarness(t)
	key := filepath.Join(t.TempDir(), "id_dropbear")
	if out, err := exec.Command("dropbearconvert", "openssh", "dropbear", h.keyAlice, key).CombinedOutput(); err != nil {
		t.Fatalf("dropbearconvert: %v %s", err, out)
	}
	dbclient := func(args ...string) *exec.Cmd {
		cmd := exec.Command("dbclient", append([]string{"-y", "-y", "-i", key, "-p", h.port}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		return cmd
	}
	cmd := dbclient("alice+demo@127.0.0.1", "pwd; exit 3")
	out, err := cmd.Output()
	if cmd.ProcessState.ExitCode() != 3 || strings.TrimSpace(string(out)) != h.demo.LocalPath {
		t.Fatalf("dbclient exec: %v %q", err, out)
	}
	tm := h.ptyTerm(dbclient("-t", "alice@127.0.0.1", "demo"))
	c, want := marker(5)
	tm.send(c)
	tm.expect(want)
	tm.send("exit\r")
	if code := tm.wait(); code != 0 {
		t.Fatalf("dbclient shell: status %d, output %q", code, tm.output())
	}
}

// curl's sftp:// and scp:// go through libssh2 (1.10 on Debian 12: no ETM
// MACs, no AES-GCM).
func TestCurlSFTPAndSCP(t *testing.T) {
	out, err := exec.Command("curl", "-V").Output()
	if err != nil || !bytes.Contains(out, []byte(" sftp")) || !bytes.Contains(out, []byte(" scp")) {
		t.Skip("curl without libssh2 (sftp, scp)")
	}
	h := newHarness(t)
	pem, _ := os.ReadFile(h.keyAlice)
	signer, _ := gossh.ParsePrivateKey(pem)
	pub := h.keyAlice + ".pub"
	os.WriteFile(pub, gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	want := sha256.Sum256(data)
	src := filepath.Join(t.TempDir(), "data.bin")
	os.WriteFile(src, data, 0o600)
	curl := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("curl", append([]string{"-sS", "-k", "--key", h.keyAlice, "--pubkey", pub, "-u", "alice+demo:"}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			errors.As(err, &ee)
			t.Fatalf("curl %v: %v %s", args, err, ee.Stderr)
		}
		return out
	}
	// curl's /~/ is the start directory of the transport: HOME for sftp,
	// the workspace (exec's working directory) for scp.
	for proto, base := range map[string]string{"sftp": "/~/ws/demo/", "scp": h.demo.LocalPath + "/"} {
		base = "://127.0.0.1:" + h.port + base
		curl("-T", src, proto+base+proto+".bin")
		got, err := os.ReadFile(filepath.Join(h.demo.LocalPath, proto+".bin"))
		if err != nil || sha256.Sum256(got) != want {
			t.Fatalf("%s upload: %v, %d bytes", proto, err, len(got))
		}
		if got := curl(proto + base + proto + ".bin"); sha256.Sum256(got) != want {
			t.Fatalf("%s download: %d bytes, checksum differs", proto, len(got))
		}
	}
}

// sftp runs an OpenSSH sftp batch on the workspace login and returns its output.
func (h *harness) sftp(lines ...string) (string, error) {
	h.t.Helper()
	batch := filepath.Join(h.t.TempDir(), "batch")
	os.WriteFile(batch, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	cmd := exec.Command("sftp", append(h.sshArgs(h.keyAlice, "-P", h.port, "-b", batch), "alice+demo@127.0.0.1")...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Symlinks keep their targets as given, as with OpenSSH's sftp-server;
// put -f asks for fsync@openssh.com.
func TestSFTPSymlinkAndFsync(t *testing.T) {
	h := newHarness(t)
	os.Mkdir(filepath.Join(h.demo.LocalPath, "sub"), 0o755)
	os.WriteFile(filepath.Join(h.demo.LocalPath, "README.md"), []byte("readme\n"), 0o644)
	src := filepath.Join(t.TempDir(), "up.txt")
	os.WriteFile(src, []byte("synced\n"), 0o644)
	out, err := h.sftp("cd ws/demo", "symlink ../README.md sub/rel", "symlink /etc/hostname abs", "put -f "+src+" synced.txt")
	if err != nil || strings.Contains(out, "not support") {
		t.Fatalf("sftp: %v %s", err, out)
	}
	got, _, code := h.ssh(nil, h.keyAlice, "alice+demo@127.0.0.1", "readlink sub/rel abs; cat sub/rel synced.txt")
	if code != 0 || got != "../README.md\n/etc/hostname\nreadme\nsynced\n" {
		t.Fatalf("read back in the shell: %d %q", code, got)
	}
	// fsync@openssh.com through pkg/sftp's client, which refuses Sync when
	// the server does not offer it.
	c, err := sftp.NewClient(h.client(h.keyAlice, "alice+demo"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.Create("ws/demo/fsynced.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	if err := f.Sync(); err != nil {
		t.Errorf("fsync: %v", err)
	}
	f.Close()
	if out, err := h.sftp("symlink ../README.md ws/demo/sub/rel"); err == nil {
		t.Errorf("symlink over an existing name succeeded: %s", out)
	}
}

// A relative symlink made through sshfs reads back through the mount and
// in the shell, and fsync reaches the server.
func TestSSHFSSymlink(t *testing.T) {
	if _, err := exec.LookPath("sshfs"); err != nil {
		t.Skip("sshfs is not installed (apt-get install sshfs); .ci/run installs it")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	h := newHarness(t)
	os.WriteFile(filepath.Join(h.demo.LocalPath, "README.md"), []byte("readme\n"), 0o644)
	os.Mkdir(filepath.Join(h.demo.LocalPath, "sub"), 0o755)
	mnt := t.TempDir()
	sshfs := exec.Command("sshfs", "-f", "-p", h.port, "-o", "IdentityFile="+h.keyAlice+",IdentitiesOnly=yes,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes,LogLevel=ERROR",
		"alice+demo@127.0.0.1:ws/demo/", mnt)
	var errb bytes.Buffer
	sshfs.Stderr = &errb
	if err := sshfs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		exec.Command("fusermount", "-u", mnt).Run()
		sshfs.Process.Kill()
		sshfs.Wait()
	}()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(mnt, "README.md")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshfs did not mount: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond) // the mount appears once sshfs has connected
	}
	if err := os.Symlink("../README.md", filepath.Join(mnt, "sub", "l")); err != nil {
		t.Fatal(err)
	}
	// Reading a link back through the mount: on some kernels FUSE answers
	// readlink with EPERM whatever the server (OpenSSH's sftp-server too);
	// the link itself is checked in the shell below.
	switch target, err := os.Readlink(filepath.Join(mnt, "sub", "l")); {
	case errors.Is(err, syscall.EPERM):
		t.Logf("this kernel's FUSE refuses readlink: %v", err)
	case err != nil || target != "../README.md":
		t.Errorf("readlink through sshfs: %q %v", target, err)
	default:
		if got, err := os.ReadFile(filepath.Join(mnt, "sub", "l")); err != nil || string(got) != "readme\n" {
			t.Errorf("read through the link: %q %v", got, err)
		}
	}
	f, err := os.Create(filepath.Join(mnt, "synced.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("synced\n")
	if err := f.Sync(); err != nil {
		t.Errorf("fsync through sshfs: %v", err)
	}
	f.Close()
	got, _, code := h.ssh(nil, h.keyAlice, "alice+demo@127.0.0.1", "readlink sub/l; cat sub/l synced.txt")
	if code != 0 || got != "../README.md\nreadme\nsynced\n" {
		t.Errorf("in the shell: %d %q", code, got)
	}
}

// "~" is HOME for exec, scp (both protocols), sftp, rsync and git on the
// workspace login; the workspace is ~/ws/NAME and exec starts in it. git
// clones by that path with protocol v2.
func TestTildeIsHome(t *testing.T) {
	h := newHarness(t)
	os.WriteFile(filepath.Join(h.home, "where.txt"), []byte("home\n"), 0o644)
	os.WriteFile(filepath.Join(h.demo.LocalPath, "where.txt"), []byte("workspace\n"), 0o644)
	out, _, code := h.ssh(nil, h.keyAlice, "alice+demo@127.0.0.1", "cat ~/where.txt where.txt ~/ws/demo/where.txt")
	if code != 0 || out != "home\nworkspace\nworkspace\n" {
		t.Errorf("exec: %d %q", code, out)
	}
	dst := t.TempDir()
	fetch := func(name string, cmd *exec.Cmd, file, want string) {
		t.Helper()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v %s", name, err, out)
			return
		}
		if got, _ := os.ReadFile(filepath.Join(dst, file)); string(got) != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	remote := "alice+demo@127.0.0.1:"
	for i, mode := range []string{"", "-O"} {
		args := h.sshArgs(h.keyAlice, "-P", h.port)
		if mode != "" {
			args = append(args, mode)
		}
		fetch("scp "+mode+" ~", exec.Command("scp", append(args, remote+"~/where.txt", filepath.Join(dst, fmt.Sprint("h", i)))...), fmt.Sprint("h", i), "home\n")
		fetch("scp "+mode+" ~/ws/demo", exec.Command("scp", append(args, remote+"~/ws/demo/where.txt", filepath.Join(dst, fmt.Sprint("w", i)))...), fmt.Sprint("w", i), "workspace\n")
	}
	rsh := "ssh " + strings.Join(h.sshArgs(h.keyAlice, "-p", h.port), " ")
	fetch("rsync ~", exec.Command("rsync", "-e", rsh, remote+"~/where.txt", filepath.Join(dst, "r")), "r", "home\n")
	if out, err := h.sftp("get where.txt "+filepath.Join(dst, "s1"), "get ws/demo/where.txt "+filepath.Join(dst, "s2")); err != nil {
		t.Errorf("sftp: %v %s", err, out)
	}
	for file, want := range map[string]string{"s1": "home\n", "s2": "workspace\n"} {
		if got, _ := os.ReadFile(filepath.Join(dst, file)); string(got) != want {
			t.Errorf("sftp %s: %q", file, got)
		}
	}

	// git clone ssh://alice+demo@host/~/ws/demo speaks protocol v2.
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	git(h.demo.LocalPath, "add", "where.txt")
	git(h.demo.LocalPath, "commit", "-qm", "where")
	clone := exec.Command("git", "clone", "ssh://alice+demo@127.0.0.1:"+h.port+"/~/ws/demo", filepath.Join(dst, "clone"))
	clone.Env = append(os.Environ(), "GIT_SSH_COMMAND="+rsh, "GIT_TRACE_PACKET=1", "GIT_PROTOCOL_FROM_USER=1")
	trace, err := clone.CombinedOutput()
	if err != nil {
		t.Fatalf("git clone: %v %s", err, trace)
	}
	if !bytes.Contains(trace, []byte("< version 2")) {
		t.Errorf("git did not speak protocol v2:\n%s", trace)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "clone", "where.txt")); string(got) != "workspace\n" {
		t.Errorf("clone: %q", got)
	}
}

// ssh -A -t on the shared session: the shell's SSH_AUTH_SOCK reaches the
// agent of the most recent client that forwards one, and none once no
// attached client does.
func TestAgentForwardingSharedSession(t *testing.T) {
	h := newHarness(t)
	sock, want := startAgent(t, h.keyOther)
	env := []string{"SSH_AUTH_SOCK=" + sock}
	a := h.termEnv(env, h.keyAlice, "-A", "alice@127.0.0.1", "demo")
	a.send("ssh-add -l; echo rc-$((20+1))-$?\r")
	out := a.expect("rc-21-")
	if !strings.Contains(out, want) {
		t.Fatalf("ssh-add -l in the shared shell: %q, want %s", out, want)
	}
	// A second client forwarding another agent takes over while attached.
	sock2, want2 := startAgent(t, h.keyBob)
	b := h.termEnv([]string{"SSH_AUTH_SOCK=" + sock2}, h.keyAlice, "-A", "alice@127.0.0.1", "demo")
	b.send("clear; ssh-add -l; echo rc-$((30+1))-$?\r")
	out = b.expect("rc-31-")
	if !strings.Contains(out, want2) {
		t.Fatalf("ssh-add -l after a second -A client: %q, want %s", out, want2)
	}
	b.kill()
	// a shows the shared screen too: its count starts after b's listing.
	a.expect("rc-31-")
	before := len(a.output())
	a.send("clear; ssh-add -l; echo rc-$((40+1))-$?\r")
	if out := a.expect("rc-41-")[before:]; !strings.Contains(out, want) || strings.Contains(out, want2) {
		t.Fatalf("ssh-add -l after the second client left: %q, want %s", out, want)
	}
	a.kill()
	// Attached without -A: no agent answers.
	c := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	c.send("clear; ssh-add -l >/dev/null 2>&1; echo rc-$((50+1))-$?\r")
	if out := c.expect("rc-51-"); strings.Contains(out, "rc-51-0") {
		t.Fatalf("an agent answered with no client forwarding one: %q", out)
	}
}

// mosh to the workspace login reaches the shared session with codeterm
// attach, through the user's attach socket.
func TestMoshAttach(t *testing.T) {
	if _, err := exec.LookPath("mosh"); err != nil {
		t.Skip("mosh is not installed (apt-get install mosh); .ci/run installs it")
	}
	h := newHarness(t)
	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	c, want := marker(7)
	a.send(c)
	a.expect(want)
	mosh := exec.Command("mosh", "--ssh=ssh "+strings.Join(h.sshArgs(h.keyAlice, "-p", h.port), " "),
		"alice+demo@127.0.0.1", "--", "codeterm", "attach", "demo")
	mosh.Env = append(os.Environ(), "LANG=C.UTF-8", "TERM=xterm-256color")
	m := h.ptyTerm(mosh)
	m.expect(want) // the shared screen, repainted
	c, want = marker(8)
	m.send(c)
	m.expect(want)
	a.expect(want)
	// The shell's exit ends codeterm attach, mosh-server and mosh.
	a.send("exit\r")
	a.wait()
	m.wait()
}

// codeterm attach outside a workspace login says what it needs.
func TestAttachNeedsSocket(t *testing.T) {
	h := newHarness(t)
	out, stderr, code := h.ssh(nil, h.keyAlice, "alice+demo@127.0.0.1", "codeterm attach demo </dev/null; echo rc=$?; env -u "+AttachSockVar+" codeterm attach demo")
	if code != 1 || !strings.Contains(out, "rc=1") || !strings.Contains(stderr, "stdin is not a terminal") || !strings.Contains(stderr, AttachSockVar+" is not set") {
		t.Fatalf("codeterm attach without a terminal or socket: %d %q %q", code, out, stderr)
	}
}

// TestPasteReachesShellWhole: a paste larger than an idle client's input
// buffer reaches the shell byte for byte and in order, in the buffers it
// switches to and back from.
func TestPasteReachesShellWhole(t *testing.T) {
	h := newHarness(t)
	a := h.term(h.keyAlice, "alice@127.0.0.1", "demo")
	a.send("stty raw -echo; echo ready-$((3*3)); head -c 100000 > paste; stty sane; echo got-$(md5sum < paste | cut -c1-32)\r")
	a.expect("ready-9")
	var paste strings.Builder
	for i := 0; paste.Len() < 100000; i++ {
		fmt.Fprintf(&paste, "%d:%s;", i, strings.Repeat("x", i%300))
	}
	data := paste.String()[:100000]
	sum := md5.Sum([]byte(data))
	// In parts of varied size, some filling the buffers, some not.
	for len(data) > 0 {
		n := min(len(data), 1+len(data)%7000)
		a.send(data[:n])
		data = data[n:]
	}
	a.expect(fmt.Sprintf("got-%x", sum))
}
