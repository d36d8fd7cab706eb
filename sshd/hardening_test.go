package sshd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/codeterm/codeterm/auth"
	"github.com/codeterm/codeterm/store"
)

// access is one connection of a user in use the ways removal must end:
// a running exec, an open sftp session and a -L forward.
type access struct {
	c    *gossh.Client
	pid  int // the exec's shell
	ftp  *sftp.Client
	done chan struct{} // closed when the connection ends
}

func (h *harness) openAccess(keyFile, user string) *access {
	h.t.Helper()
	c := h.client(keyFile, user)
	a := &access{c: c, done: make(chan struct{})}
	go func() { c.Wait(); close(a.done) }()
	sess, err := c.NewSession()
	if err != nil {
		h.t.Fatal(err)
	}
	out, _ := sess.StdoutPipe()
	if err := sess.Start(`echo $$; exec sleep 60`); err != nil {
		h.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		h.t.Fatalf("exec: %v", err)
	}
	a.pid, _ = strconv.Atoi(strings.TrimSpace(line))
	if a.ftp, err = sftp.NewClient(c); err != nil {
		h.t.Fatalf("sftp: %v", err)
	}
	if _, err := a.ftp.ReadDir("."); err != nil {
		h.t.Fatalf("sftp readdir: %v", err)
	}
	return a
}

// cutWithin waits for the connection to end and returns how long it took.
func (a *access) cutWithin(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the connection was not cut")
	}
	took := time.Since(since)
	// The exec is killed, not left to finish.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(a.pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("exec process %d still runs after the cut", a.pid)
		}
		time.Sleep(20 * time.Millisecond) // polling a process's end, not output
	}
	if _, err := a.ftp.ReadDir("."); err == nil {
		t.Fatal("sftp still works after the cut")
	}
	return took
}

func (a *access) alive(t *testing.T) {
	t.Helper()
	select {
	case <-a.done:
		t.Fatal("an unrelated connection was cut")
	default:
	}
	if _, err := a.ftp.ReadDir("."); err != nil {
		t.Fatalf("unrelated connection: %v", err)
	}
}

func TestRemovalCutsConnections(t *testing.T) {
	ctx := context.Background()
	t.Run("user rm", func(t *testing.T) {
		h := newHarness(t)
		a := h.openAccess(h.keyAlice, "alice+demo")
		b := h.openAccess(h.keyBob, "bob+secret")
		start := time.Now()
		if err := h.store.DeleteUser(ctx, h.alice.ID); err != nil {
			t.Fatal(err)
		}
		t.Logf("user rm: cut after %v", a.cutWithin(t, start))
		b.alive(t)
	})
	t.Run("user revoke", func(t *testing.T) {
		h := newHarness(t)
		a := h.openAccess(h.keyAlice, "alice+demo")
		b := h.openAccess(h.keyBob, "bob+secret")
		start := time.Now()
		if err := h.auth.RevokeUser(ctx, h.alice.ID); err != nil {
			t.Fatal(err)
		}
		t.Logf("user revoke: cut after %v", a.cutWithin(t, start))
		b.alive(t)
	})
	t.Run("user key rm", func(t *testing.T) {
		h := newHarness(t)
		second := h.newKey(h.alice)
		a := h.openAccess(h.keyAlice, "alice+demo")
		other := h.openAccess(second, "alice+demo")
		// A -L forward on the connection is refused once the key is gone.
		web, _ := net.Listen("tcp", "127.0.0.1:0")
		defer web.Close()
		pem, _ := os.ReadFile(h.keyAlice)
		signer, _ := gossh.ParsePrivateKey(pem)
		start := time.Now()
		if err := h.store.RemoveSSHKey(ctx, h.alice.ID, gossh.FingerprintSHA256(signer.PublicKey())); err != nil {
			t.Fatal(err)
		}
		if conn, err := a.c.Dial("tcp", web.Addr().String()); err == nil {
			conn.Close()
			t.Fatal("a forward was opened with a removed key")
		}
		t.Logf("user key rm: cut after %v", a.cutWithin(t, start))
		other.alive(t)
	})
}

// forwardRequest is the payload of tcpip-forward and cancel-tcpip-forward.
func forwardRequest(addr string) []byte {
	host, port := splitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return gossh.Marshal(&struct {
		BindAddr string
		BindPort uint32
	}{host, uint32(p)})
}

func TestForwardsBelongToTheirConnection(t *testing.T) {
	h := newHarness(t)
	alice := h.client(h.keyAlice, "alice")
	ln, err := alice.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(conn, "alice's service")
			conn.Close()
		}
	}()
	addr := ln.Addr().String()
	_, port := splitHostPort(addr)

	bob := h.client(h.keyBob, "bob")
	if ok, _, err := bob.SendRequest("cancel-tcpip-forward", true, forwardRequest(addr)); err != nil || ok {
		t.Fatalf("bob cancelled alice's forward: ok=%v err=%v", ok, err)
	}
	alice2 := h.client(h.keyAlice, "alice")
	if ok, _, _ := alice2.SendRequest("cancel-tcpip-forward", true, forwardRequest(addr)); ok {
		t.Fatal("another connection cancelled the forward")
	}
	for _, a := range []string{addr, "[::1]:" + port, "localhost:" + port, "127.0.0.2:" + port} {
		if ok, _, _ := bob.SendRequest("tcpip-forward", true, forwardRequest(a)); ok {
			t.Fatalf("bob took alice's port on %s", a)
		}
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("alice's forward is gone: %v", err)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "alice's service" {
		t.Fatalf("alice's port answered %q", got)
	}
	// Her own connection cancels it.
	if ok, _, err := alice.SendRequest("cancel-tcpip-forward", true, forwardRequest(addr)); err != nil || !ok {
		t.Fatalf("alice's cancel: %v %v", ok, err)
	}
}

func TestGoodKeyNeverLockedOut(t *testing.T) {
	h := newHarness(t, func(s *Server) {
		s.AuthThrottle = auth.NewThrottle(2)
		s.AuthThrottle.Base, s.AuthThrottle.Max = time.Millisecond, 5*time.Millisecond
	})
	for i := 0; i < 6; i++ {
		if _, _, code := h.ssh(nil, h.keyOther, "alice@127.0.0.1", "demo", "true"); code != 255 {
			t.Fatalf("unknown key accepted: %d", code)
		}
	}
	for _, key := range []string{h.keyAlice, h.keyBob} {
		user, ws := "alice", "demo"
		if key == h.keyBob {
			user, ws = "bob", "secret"
		}
		if _, errs, code := h.ssh(nil, key, user+"@127.0.0.1", ws, "true"); code != 0 {
			t.Fatalf("%s's good key refused after others' failures: %d %q", user, code, errs)
		}
	}
	if d := h.srv.AuthThrottle.Hold("addr 127.0.0.1"); d == 0 {
		t.Fatal("failures from the address are not held back")
	}
	if d := h.srv.AuthThrottle.Hold("user alice"); d == 0 {
		t.Fatal("failures for the attempted user are not held back")
	}
}

func TestChannelsPerConnectionLimited(t *testing.T) {
	h := newHarness(t, func(s *Server) { s.MaxChannels = 4 })
	c := h.client(h.keyAlice, "alice+demo")
	var open []*gossh.Session
	for i := 0; i < 4; i++ {
		s, err := c.NewSession()
		if err != nil {
			t.Fatalf("channel %d: %v", i+1, err)
		}
		open = append(open, s)
	}
	_, err := c.NewSession()
	var oc *gossh.OpenChannelError
	if !errors.As(err, &oc) || oc.Reason != gossh.ResourceShortage {
		t.Fatalf("channel 5 of 4: %v", err)
	}
	if _, err := c.Dial("tcp", h.addr); err == nil {
		t.Fatal("a forward beyond the limit was opened")
	}
	open[0].Close()
	// The closed channel's slot comes back once the server has seen it go.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := c.NewSession()
		if err == nil {
			out, err := s.Output("echo again")
			if err != nil || string(out) != "again\n" {
				t.Fatalf("after a close: %q %v", out, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no channel after closing one: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the server's handler ending, not output
	}
}

func TestPrivatePtySizeClamped(t *testing.T) {
	h := newHarness(t)
	c := h.client(h.keyAlice, "alice+demo")
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 5000, 70000, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := s.Output("stty size")
	if err != nil {
		t.Fatalf("stty: %v %q", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "1000 1000" {
		t.Fatalf("PTY size %q, want 1000 1000", got)
	}
}

// answerAfterEOF is a TCP service that replies only once the client has
// shut down its sending side, as HTTP/1.0 servers and nc -N peers need.
func answerAfterEOF(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, _ := io.ReadAll(conn)
				io.WriteString(conn, "reply to "+strings.TrimSpace(string(req)))
			}()
		}
	}()
	return ln.Addr().String()
}

// dialRetry dials addr until a client's listener is up.
func dialRetry(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.Dial(network, addr)
		if err == nil {
			return conn
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never came up: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond) // polling for a client's listener, not for output
	}
}

// halfClose sends req, shuts down the sending side and reads the reply.
func halfClose(t *testing.T, conn net.Conn, req string) string {
	t.Helper()
	defer conn.Close()
	io.WriteString(conn, req)
	conn.(interface{ CloseWrite() error }).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read reply: %v (got %q)", err, got)
	}
	return string(got)
}

// startSSH runs an OpenSSH client in the background until the test ends.
func (h *harness) startSSH(t *testing.T, args ...string) {
	cmd := exec.Command("ssh", append(h.sshArgs(h.keyAlice, "-p", h.port, "-N", "-o", "ExitOnForwardFailure=yes"), args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

func TestForwardHalfClose(t *testing.T) {
	h := newHarness(t)
	svc := answerAfterEOF(t)
	const req = "GET / HTTP/1.0"
	const want = "reply to " + req
	t.Run("W", func(t *testing.T) {
		out, errs, code := h.ssh(strings.NewReader(req+"\r\n\r\n"), h.keyAlice, "-W", svc, "alice+demo@127.0.0.1")
		if code != 0 || out != want {
			t.Fatalf("ssh -W: %d %q %q", code, out, errs)
		}
	})
	t.Run("L", func(t *testing.T) {
		local := freePort(t)
		h.startSSH(t, "-L", local+":"+svc, "alice+demo@127.0.0.1")
		if got := halfClose(t, dialRetry(t, "tcp", "127.0.0.1:"+local), req); got != want {
			t.Fatalf("-L: %q", got)
		}
	})
	t.Run("D", func(t *testing.T) {
		local := freePort(t)
		h.startSSH(t, "-D", "127.0.0.1:"+local, "alice+demo@127.0.0.1")
		conn := dialRetry(t, "tcp", "127.0.0.1:"+local)
		socks5Connect(t, conn, svc)
		if got := halfClose(t, conn, req); got != want {
			t.Fatalf("-D: %q", got)
		}
	})
	t.Run("R", func(t *testing.T) {
		remote := freePort(t)
		h.startSSH(t, "-R", "127.0.0.1:"+remote+":"+svc, "alice+demo@127.0.0.1")
		if got := halfClose(t, dialRetry(t, "tcp", "127.0.0.1:"+remote), req); got != want {
			t.Fatalf("-R: %q", got)
		}
	})
}

// socks5Connect asks a SOCKS5 proxy (ssh -D) for a connection to addr.
func socks5Connect(t *testing.T, conn net.Conn, addr string) {
	t.Helper()
	host, port := splitHostPort(addr)
	p, _ := strconv.Atoi(port)
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	defer conn.SetDeadline(time.Time{})
	conn.Write([]byte{5, 1, 0})
	reply := make([]byte, 2)
	if _, err := io.ReadFull(conn, reply); err != nil || reply[1] != 0 {
		t.Fatalf("socks greeting: %v %v", reply, err)
	}
	msg := append([]byte{5, 1, 0, 1}, net.ParseIP(host).To4()...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(p))
	conn.Write(msg)
	reply = make([]byte, 10)
	if _, err := io.ReadFull(conn, reply); err != nil || reply[1] != 0 {
		t.Fatalf("socks connect: %v %v", reply, err)
	}
}

func TestRemoteUnixSocketForward(t *testing.T) {
	h := newHarness(t)
	svc := answerAfterEOF(t)
	sock := filepath.Join(h.home, "fwd.sock")
	h.startSSH(t, "-R", sock+":"+svc, "alice+demo@127.0.0.1")
	conn := dialRetry(t, "unix", sock)
	if got := halfClose(t, conn, "ping"); got != "reply to ping" {
		t.Fatalf("-R to a unix socket: %q", got)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	// In the workspace too.
	wsSock := filepath.Join(h.demo.LocalPath, "ws.sock")
	h.startSSH(t, "-R", wsSock+":"+svc, "alice+demo@127.0.0.1")
	if got := halfClose(t, dialRetry(t, "unix", wsSock), "pong"); got != "reply to pong" {
		t.Fatalf("-R to a socket in the workspace: %q", got)
	}

	// Outside HOME and the workspaces, through a link out of HOME, or in
	// another user's workspace: refused.
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(h.home, "out"))
	bobWs, _ := h.store.WorkspaceByName(context.Background(), h.bob.ID, "secret")
	for _, p := range []string{
		filepath.Join(outside, "x.sock"),
		filepath.Join(h.home, "out", "x.sock"),
		filepath.Join(h.home, "..", "escape.sock"),
		filepath.Join(bobWs.LocalPath, "x.sock"),
	} {
		_, errs, code := h.ssh(nil, h.keyAlice, "-N", "-o", "ExitOnForwardFailure=yes", "-R", p+":"+svc, "alice+demo@127.0.0.1")
		if code != 255 || !strings.Contains(errs, "remote port forwarding failed") {
			t.Fatalf("-R %s: %d %q", p, code, errs)
		}
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("socket %s was made", p)
		}
	}
}

// TestRemoteUnixSocketOwner: the forwarded socket gets the owner
// SocketOwner names (the user's OS account under per-user isolation).
func TestRemoteUnixSocketOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	h := newHarness(t, func(s *Server) {
		s.SocketOwner = func(u *store.User) (int, int, bool) { return 65534, 65533, u.Name == "alice" }
	})
	svc := answerAfterEOF(t)
	sock := filepath.Join(h.home, "owned.sock")
	h.startSSH(t, "-R", sock+":"+svc, "alice+demo@127.0.0.1")
	dialRetry(t, "unix", sock).Close()
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65533 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket owner %d:%d mode %v", st.Uid, st.Gid, fi.Mode())
	}
}
